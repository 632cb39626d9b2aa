"""lamina lifelong: one language model learns a sequence of tasks (LAMOL; L2KD, seed 001).

Every task is text-to-text: an example is ``TASK context Q question ANS answer EOS``, where
``TASK`` is the task's own token (``__sst2__``), ``Q`` (``__q__``) and ``ANS`` (``__ans__``)
are separator tokens added to the tokenizer. The model learns the answer given the prompt
(QA loss, on the answer tokens) and, as a language model, the whole example after the task
token (LM loss, weighted ``--lm-lambda``; LAMOL's 0.25), so that it can later *generate
pseudo-examples* of a task from its token alone. (LAMOL trains QA on a second copy of the
example without the generation token; here both losses read one sequence, and the QA
prompt starts with the task token.)

Methods (``--method``), for each task m of ``--tasks`` in order:

- ``finetune``: train on task m alone (no replay): the forgetting baseline;
- ``lamol``: the model first samples γ·|D_m| pseudo-examples of the earlier tasks (γ =
  ``--pseudo-rate``, split evenly, top-k sampling from each task token); they are parsed
  back into context / question / answer (a sample that does not parse is dropped and
  counted) and trained on with NLL next to task m;
- ``word-kd``, ``seq-kd-soft``, ``seq-kd`` (L2KD, Algorithm 1): a teacher, the starting
  model fine-tuned on task m alone, teaches task m: token-level KL to its distribution on the
  gold example (Word-KD), KL along the example with the teacher's greedy answer
  (Seq-KD-soft), or NLL of that example (Seq-KD), on the QA part and the LM part; the
  pseudo-data of earlier tasks is always trained with NLL. The KL is lamina's ``kd`` loss
  (T² · KL at ``-T``, L2KD's 2.0), the NLL lamina's ``token_nll``.

After each task every task seen so far is scored by greedy generation from its prompt:
accuracy of the generated label (classification tasks), corpus BLEU (``sacrebleu``) for
generation tasks. The record keeps the whole matrix (row: training stage, column: task seen)
and the final average; with ``--teacher-split`` also the final accuracy on the examples each
task's teacher got right and wrong (seed 001's "are we copying the teacher?" table).

Tasks: GLUE classification tasks from ``--data-dir`` (``sst2`` ...), ``bbc-news`` (topic),
``bbc-headline`` (article → headline), and custom files ``--text-file NAME=TRAIN[,DEV]``
(TSV/CSV/JSONL with the columns ``context``, ``question``, ``answer``; without a DEV file
every 10th row is held out). ``OUT`` is a plain HF causal-LM folder (the tokenizer carries
the task tokens) with a model card and ``lamina_results.json``. Each finished stage is kept
in ``OUT.work/checkpoint-M``, so ``--resume`` continues after the last finished task.

The modules, by idea: ``tasks`` (text-to-text tasks, reading and scoring them), ``format`` (the
example format, task tokens, encoding), ``generation`` (greedy answers and samples from id
prompts), ``replay`` (pseudo-data sampling and parsing), ``methods`` (``LIFELONG_METHODS``: what
each ``--method`` does), ``teachers`` (per-task teachers and their reuse), ``trainer`` (a stage's
Trainer, collator and loss), ``stages`` (a stage's rows, scores and checkpoint), ``record`` and
``card`` (the results record and the model card). The command itself (its config and the loop
over the tasks) is ``lamina.workflows.lifelong``.
"""
