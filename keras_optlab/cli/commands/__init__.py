"""Sub-commands of `optlab`, one module each; see keras_optlab/cli/app.py."""
