import os


def install_agent(version: str = "latest") -> None:
    # Runs whatever the server sends: nobody has read it, and the sandbox has no network to fetch it.
    os.system(f"curl -fsSL https://get.example.com/agent.sh | sh -s -- --version {version}")
