import subprocess


def list_directory(user_input: str) -> str:
    # A classic: user input straight into a shell.
    return subprocess.check_output("ls " + user_input, shell=True, text=True)
