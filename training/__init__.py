"""Training and evaluation of the encoders, apart from what serves them: `train` (with
`augment` and the synthetic voices of `tts_speakers` and `festival_speakers`, chosen by
`training_voices`), `evaluate` and `retrieval_metrics`,
`plots`, and the out-of-distribution report (`ood/`). It imports `models`; nothing the image
runs imports it, and its extra packages (the `train` extra) are not in the image."""
