"""The time-chunk partitioner engine: a bytenite-runtime built-in."""

from bytenite_runtime import task

if __name__ == "__main__":
    task.serve("time-chunk", "partitioner")
