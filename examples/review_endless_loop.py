def wait_for_ready(flag: dict) -> None:
    # Never returns when the flag is never set: the sandbox's time limit stops it.
    while not flag.get("ready"):
        pass


wait_for_ready({})
