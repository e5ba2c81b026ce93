from drkit.cli import run

run()
