"""Benchmarks: the course's code against the original course's recipe and the usual alternatives, on this machine.

Run everything with ``python -m benchmarks`` from the project root (``--help`` for the options). Each part compares
its contenders side by side in the same run:

- ``data``: the original's ``json`` parse and per-sample batches against ``course_utils``' arrays;
- ``training``: one epoch of the original recipe (``original_recipe``) against ``python -m course_utils train``,
  on one process and on two (``paddle.distributed.launch``);
- ``inference``: the dynamic graph, Paddle Inference and (if installed) ONNX Runtime on the test set;
- ``photos``: the original's resize-only preprocessing against ``imaging.to_mnist`` on generated photos and drawings
  of MNIST test digits (``course_utils.photo_sets``), per condition;
- ``notebooks``: the whole notebook suite in fast mode.

Tables are printed; the figures, the targets they meet or miss, and the machine's load go to ``benchmarks/results/``.
"""
