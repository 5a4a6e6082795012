"""The `construct` command: `providers list|show`, `chat`, `config init|check`.

`main.py` parses the command line and turns errors into one line and an exit
code; each command lives in its own module and is imported only when it runs,
so `construct providers list` never pays for what `chat` needs.
"""
