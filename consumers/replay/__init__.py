"""The replay family: one run's events merged into steps (``stream``) and sent to W&B or TensorBoard
(``wandb_sink``, ``tensorboard_sink``), idempotently: each destination keeps its own position."""
