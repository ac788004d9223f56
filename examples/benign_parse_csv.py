import csv
import io

DATA = "name,score\nada,3\ngrace,5\n"


def best(text: str) -> str:
    rows = list(csv.DictReader(io.StringIO(text)))
    return max(rows, key=lambda row: int(row["score"]))["name"]


print(best(DATA))
