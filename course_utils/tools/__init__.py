"""The course's tooling, apart from the teaching code the chapters import: the command line (``cli``), building and
running notebooks (``notebook_build``), and grading a class (``grading``). Students never need to read these."""
