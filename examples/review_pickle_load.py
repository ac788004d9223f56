import pickle


def load_cache(blob: bytes):
    # Unpickling untrusted data runs arbitrary code: held for a person to look at.
    return pickle.loads(blob)
