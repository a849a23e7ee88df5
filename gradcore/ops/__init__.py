"""The differentiable ops, one family per module; each op's forward, backward and jvp together."""
