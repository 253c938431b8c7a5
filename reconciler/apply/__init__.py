"""The imperative apply stage: generations, state markers, the apply lock, plan execution."""
