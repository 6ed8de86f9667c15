"""The template's GitOps machinery: comparing a candidate with the released model, gating and releasing it."""
