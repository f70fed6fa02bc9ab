"""How a step reaches an update rule: the machinery every optimizer shares.

Update rules (keras_optlab/optimizers/) say what a step computes; this
package says how and when it runs. step.py owns the order and describes it
at its top; the other modules are its parts.
"""
