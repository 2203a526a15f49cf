"""Training: the loop (schedule, clipping, checkpoints every epoch, exact resume), distributed data parallel, and the
trainable state (model and loss); configs and checkpoint files live in :mod:`hyperalign.config` and
:mod:`hyperalign.checkpoint`."""
