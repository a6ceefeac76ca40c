"""Gateway: the one door for people and programs. Holds no state of its own."""
