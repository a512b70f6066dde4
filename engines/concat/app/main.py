"""The concat assembler engine: a bytenite-runtime built-in."""

from bytenite_runtime import task

if __name__ == "__main__":
    task.serve("concat", "assembler")
