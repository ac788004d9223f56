"""Classify shell command strings: does this one fetch something and execute it?

Pure functions on text, used by the static rules (`checks.exec_rules`, on the command strings a
suggestion hands to a spawn API) and by the sandbox report (on commands seen at run time):

- `download_and_run(command)`: a short description when the command downloads code and runs it
  (`curl … | sh`, `bash -c "$(curl …)"`, `sh <(wget -O- …)`, `curl -o x.sh … && sh x.sh`), or when
  it hands a shell to the network (`bash -i >& /dev/tcp/…`, `nc -e /bin/sh …`); else None.
- `shell_command(argv)`: the command string when `argv` runs a shell with `-c`; else None.
- `stdin_interpreter(argv)`: the interpreter's name when `argv` runs code read from stdin.

What is *not* download-and-run, on purpose: a fetch whose output goes to a program that reads it
as data (`curl … | jq`, `curl … | python3 -m json.tool`, `curl … | python3 -c '…json.load(sys.stdin)…'`),
a local script piped into a shell (`echo hi | sh`, `cat install.sh | sh`: a spawn through a shell,
not a download), package managers and version control (`pip install …`, `git clone … && make`),
and archives (`wget x.tar.gz && tar xf x.tar.gz && ./x/run`: the extracted names are not followed).
PowerShell (`iwr … | iex`) is out of scope: the sandboxes run Linux.

The command is split by a small shell tokenizer (quotes, `$(…)`, backticks, `<(…)`, redirections,
here-documents), not by one regular expression: which word a shell *executes* is what matters,
and a regular expression cannot tell `curl … | python3 -m json.tool` from `curl … | python3`.
Unknown parts of a command (a Python variable in an f-string) may be given as `HOLE`: a word the
classifier knows nothing about. It never raises on malformed input.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

# Stands for a part of the command that is not known statically (see the module doc).
HOLE = "\u2026"

# -- the tokenizer -------------------------------------------------------------------------


@dataclass
class Word:
    text: str = ""  # quotes removed; substitutions kept as written
    subs: list[Script] = field(default_factory=list)  # $(…), `…` and <(…) this shell evaluates
    quoted: bool = False


@dataclass
class Redirect:
    op: str  # ">", ">>", "<", "<<<", "<<", ">&", "&>", "<>"...
    target: Word


@dataclass
class Command:
    words: list[Word] = field(default_factory=list)
    redirects: list[Redirect] = field(default_factory=list)
    body: Script | None = None  # ( … ) and { …; }


@dataclass
class Script:
    pipelines: list[list[Command]] = field(default_factory=list)

    def commands(self) -> Iterator[Command]:
        """Every simple command in order, those in subshells and groups included."""
        for pipeline in self.pipelines:
            for command in pipeline:
                if command.body is not None:
                    yield from command.body.commands()
                yield command


_MAX_DEPTH = 12
_MAX_LENGTH = 16384  # of a command classified: a longer one is read as far as this (time stays bounded)
_OPERATORS = ("&&", "||", ";;", "|&", "|", "&", ";", "\n")
_REDIRECT = re.compile(r"&>>|&>|<<<|<<-|<<|<>|<&|>&|>>|>\||<|>")
_KEYWORDS = {
    "if",
    "then",
    "else",
    "elif",
    "fi",
    "do",
    "done",
    "while",
    "until",
    "for",
    "in",
    "case",
    "esac",
    "!",
    "{",
    "}",
    "time",
    "function",
}
_ANSI = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "e": "\x1b", "0": "\0"}


class _Parser:
    def __init__(self, text: str, depth: int = 0) -> None:
        self.s = text
        self.i = 0
        self.depth = depth
        self.nesting = 0  # ( … ) and { …; } open around the current position
        self.heredocs: list[tuple[Word, str, bool]] = []  # (word to fill, delimiter, strip tabs)

    # A nested $(…) / <(…) / `…`: parsed by a parser of its own; returns the script and the raw text.
    def _nested_paren(self) -> tuple[Script, str]:
        start = self.i
        depth, quote = 1, ""
        while self.i < len(self.s) and depth:
            c = self.s[self.i]
            if quote:
                if c == "\\" and quote == '"':
                    self.i += 1
                elif c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
            elif c == "\\":
                self.i += 1
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            self.i += 1
        raw = self.s[start : self.i - 1] if not depth else self.s[start:]
        return self._sub(raw), raw

    def _sub(self, raw: str) -> Script:
        if self.depth >= _MAX_DEPTH:
            return Script()
        return _Parser(raw, self.depth + 1).script()

    def _backtick(self) -> tuple[Script, str]:
        end = self.s.find("`", self.i)
        end = len(self.s) if end < 0 else end
        raw = self.s[self.i : end]
        self.i = end + 1
        return self._sub(raw.replace("\\`", "`")), raw

    def _dollar(self, word: Word, in_quotes: bool) -> None:
        """At a `$`: command substitution, arithmetic, parameter expansion or ANSI-C quoting."""
        s, i = self.s, self.i
        if s.startswith("$((", i):
            end = s.find("))", i + 3)
            end = len(s) if end < 0 else end + 2
            word.text += s[i:end]
            self.i = end
        elif s.startswith("$(", i):
            self.i += 2
            script, raw = self._nested_paren()
            word.subs.append(script)
            word.text += f"$({raw})"
        elif s.startswith("${", i):
            end = s.find("}", i)
            end = len(s) if end < 0 else end + 1
            word.text += s[i:end]
            self.i = end
        elif s.startswith("$'", i) and not in_quotes:
            self.i += 2
            word.quoted = True
            while self.i < len(s) and s[self.i] != "'":
                c = s[self.i]
                if c == "\\" and self.i + 1 < len(s):
                    word.text += self._ansi_escape()
                    continue
                word.text += c
                self.i += 1
            self.i += 1
        else:
            word.text += "$"
            self.i += 1

    def _ansi_escape(self) -> str:
        s, i = self.s, self.i + 1
        c = s[i]
        if c == "x":
            digits = re.match(r"[0-9A-Fa-f]{1,2}", s[i + 1 :])
            if digits:
                self.i = i + 1 + len(digits.group())
                return chr(int(digits.group(), 16))
        if c in "01234567":
            digits = re.match(r"[0-7]{1,3}", s[i:])
            assert digits
            self.i = i + len(digits.group())
            return chr(int(digits.group(), 8))
        self.i = i + 1
        return _ANSI.get(c, "\\" + c)

    def _word(self) -> Word:
        """Read one word from the current position (at a non-space, non-operator character)."""
        s = self.s
        word = Word()
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\n;&|()" or (c in "<>" and not s.startswith(("<(", ">("), self.i)):
                break
            if c in "<>":  # process substitution <(…) / >(…)
                self.i += 2
                script, raw = self._nested_paren()
                word.subs.append(script)
                word.text += f"{c}({raw})"
            elif c == "\\":
                if s.startswith("\\\n", self.i):
                    self.i += 2
                    continue
                word.text += s[self.i + 1 : self.i + 2]
                self.i += 2
            elif c == "'":
                end = s.find("'", self.i + 1)
                end = len(s) if end < 0 else end
                word.text += s[self.i + 1 : end]
                word.quoted = True
                self.i = end + 1
            elif c == '"':
                word.quoted = True
                self.i += 1
                self._double_quoted(word)
            elif not self._expansion(word, in_quotes=False):
                word.text += c
                self.i += 1
        return word

    def _expansion(self, word: Word, in_quotes: bool) -> bool:
        """At `$` or a backtick: read the expansion into `word`; False at any other character."""
        c = self.s[self.i]
        if c == "$":
            self._dollar(word, in_quotes)
            return True
        if c == "`":
            self.i += 1
            script, raw = self._backtick()
            word.subs.append(script)
            word.text += f"`{raw}`"
            return True
        return False

    def _double_quoted(self, word: Word) -> None:
        s = self.s
        while self.i < len(s) and s[self.i] != '"':
            c = s[self.i]
            if c == "\\" and self.i + 1 < len(s) and s[self.i + 1] in '$`"\\\n':
                if s[self.i + 1] != "\n":
                    word.text += s[self.i + 1]
                self.i += 2
            elif not self._expansion(word, in_quotes=True):
                word.text += c
                self.i += 1
        self.i += 1

    def _skip_blanks(self) -> None:
        s = self.s
        while self.i < len(s):
            if s[self.i] in " \t":
                self.i += 1
            elif s.startswith("\\\n", self.i):
                self.i += 2
            elif s[self.i] == "#":
                end = s.find("\n", self.i)
                self.i = len(s) if end < 0 else end
            else:
                break

    def _heredoc_bodies(self) -> None:
        """After a newline: the bodies of the here-documents opened on the line just read."""
        for word, delimiter, strip in self.heredocs:
            lines = []
            while self.i < len(self.s):
                end = self.s.find("\n", self.i)
                end = len(self.s) if end < 0 else end
                line = self.s[self.i : end]
                self.i = end + 1
                if (line.lstrip("\t") if strip else line) == delimiter:
                    break
                lines.append(line.lstrip("\t") if strip else line)
            word.text = "\n".join(lines)
        self.heredocs.clear()

    def script(self, closer: str = "") -> Script:
        out = Script()
        pipeline: list[Command] = []
        command = Command()
        s = self.s

        def end_command() -> None:
            nonlocal command
            if command.words or command.redirects or command.body is not None:
                pipeline.append(command)
            command = Command()

        def end_pipeline() -> None:
            nonlocal pipeline
            end_command()
            if pipeline:
                out.pipelines.append(pipeline)
            pipeline = []

        while True:
            self._skip_blanks()
            if self.i >= len(s):
                break
            c = s[self.i]
            if closer == ")" and c == closer:
                self.i += 1
                break
            group = c == "{" and not command.words and s[self.i + 1 : self.i + 2] in (" ", "\t", "\n")
            if (c == "(" or group) and not command.words:
                self.i += 1
                self.nesting += 1
                command.body = self.script(")" if c == "(" else "}") if self.nesting < _MAX_DEPTH else Script()
                self.nesting -= 1
                continue
            if closer == "}" and c == "}" and not command.words:
                self.i += 1
                break
            if c == ")":  # unbalanced: ignore
                self.i += 1
                continue
            operator = next((op for op in _OPERATORS if s.startswith(op, self.i)), None)
            if operator:
                self.i += len(operator)
                if operator in ("|", "|&"):
                    end_command()
                else:
                    end_pipeline()
                if operator == "\n" and self.heredocs:
                    self._heredoc_bodies()
                continue
            redirect = _REDIRECT.match(s, self.i)
            if redirect and not s.startswith(("<(", ">("), self.i):
                self.i = redirect.end()
                self._skip_blanks()
                target = self._word() if self.i < len(s) and s[self.i] not in "\n;|&()" else Word()
                op = redirect.group()
                if op.startswith("<<") and op != "<<<":
                    body = Word()
                    self.heredocs.append((body, target.text, op == "<<-"))
                    if not target.quoted:  # an unquoted delimiter: the body's $(…) are evaluated
                        body.quoted = False
                    command.redirects.append(Redirect("<<", body))
                else:
                    command.redirects.append(Redirect(op, target))
                continue
            start = self.i
            word = self._word()
            if self.i == start:  # a character no rule reads (`f()` after a word): skip it
                self.i += 1
                continue
            if not word.quoted and word.text.isdigit() and self.i < len(s) and s[self.i] in "<>":
                continue  # the file descriptor of a redirection (2>&1)
            if not command.words and not word.quoted and word.text in _KEYWORDS:
                continue
            command.words.append(word)
        end_pipeline()
        return out


_IFS = re.compile(r"\$\{IFS\}|\$IFS\b")


def parse(command: str) -> Script:
    """The command as a `Script` (best effort; never raises). `$IFS` is read as the blank it
    expands to (`curl${IFS}http://…` is a common way to write a space without one)."""
    return _Parser(_IFS.sub(" ", command)).script()


# -- what the words mean -------------------------------------------------------------------

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish", "csh", "tcsh", "rbash", "posh"})
_PYTHON = re.compile(r"^(?:python|pypy)[\d.]*m?$")
# Interpreter -> (options whose next word is code, options that take an argument, options that end
# the interpreter's own options and name a module or file that is not read from stdin).
_INTERPRETERS: dict[str, tuple[frozenset[str], frozenset[str], frozenset[str]]] = {
    "python": (frozenset({"-c"}), frozenset({"-W", "-X", "-Q"}), frozenset({"-m"})),
    "perl": (frozenset({"-e", "-E"}), frozenset({"-I", "-M", "-m", "-x"}), frozenset()),
    "ruby": (frozenset({"-e"}), frozenset({"-I", "-r", "-C", "-E"}), frozenset()),
    "node": (frozenset({"-e", "--eval", "-p", "--print"}), frozenset({"-r", "--require", "--import"}), frozenset()),
    "php": (frozenset({"-r"}), frozenset({"-d", "-c", "-z"}), frozenset({"-f"})),
    "lua": (frozenset({"-e"}), frozenset({"-l"}), frozenset()),
}
_INTERPRETER_NAMES = {"nodejs": "node", "perl5": "perl", "luajit": "lua", "php-cli": "php"}
# Wrappers that run the rest of their words as a command, and their options that take an argument.
_WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "-R"}),
    "doas": frozenset({"-u", "-C"}),
    "env": frozenset({"-u", "-C", "--unset", "--chdir"}),
    "nohup": frozenset(),
    "exec": frozenset({"-a"}),
    "command": frozenset(),
    "builtin": frozenset(),
    "nice": frozenset({"-n"}),
    "ionice": frozenset({"-c", "-n"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "setsid": frozenset(),
    "busybox": frozenset(),
    "unbuffer": frozenset(),
    "torsocks": frozenset(),
    "proxychains": frozenset({"-f"}),
    "proxychains4": frozenset({"-f"}),
    "chrt": frozenset(),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
}
# Programs that fetch from the network, and ones that carry a network connection both ways.
_FETCHERS = frozenset(
    {
        "curl",
        "wget",
        "fetch",
        "aria2c",
        "axel",
        "http",
        "https",
        "xh",
        "lwp-download",
        "lwp-request",
        "GET",
        "tftp",
        "ftpget",
        "scp",
        "rsync",
        "ftp",
    }
)
_NETCATS = frozenset({"nc", "ncat", "netcat", "socat", "telnet", "openssl"})
_URL = re.compile(r"\b(?:https?|ftps?|tftp)://", re.IGNORECASE)
_DEV_NET = re.compile(r"^/dev/(?:tcp|udp)/")
_PRINTERS = frozenset({"echo", "printf", "print"})
# Code in another language that fetches over the network (a Python -c that calls urlopen, …).
_CODE_FETCH = re.compile(
    r"urlopen|urlretrieve|requests\.(?:get|post|request)|httpx\.|http\.client|"
    r"LWP::|HTTP::Tiny|Net::HTTP|open-uri|URI\.open|fetch\(|https?\.get\(|"
    r"file_get_contents\(\s*['\"]https?:|socket",
    re.IGNORECASE,
)
_CODE_EXEC = re.compile(r"\b(?:exec|eval|compile|system|popen|spawn|execSync|Function)\s*\(|\beval\s+\$")
# Code that puts a socket on a process's stdin and starts a shell.
_CODE_REVERSE = re.compile(r"dup2|fdopen|Socket\.new|TCPSocket|net\.Socket|fsockopen")
_CODE_SHELL = re.compile(r"/bin/(?:ba|z|da)?sh|\bpty\.spawn|[\"'](?:ba|z|da)?sh[\"']|cmd\.exe")
_STRING_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"|`([^`]*)`")


def _name(word: Word) -> str:
    return posixpath.basename(word.text)


def _unwrap(words: list[Word]) -> list[Word]:
    """The words of the command that actually runs: assignments and wrappers (sudo, env, …) removed."""
    i = 0
    while i < len(words):
        text = words[i].text
        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", text):
            i += 1
            continue
        name = posixpath.basename(text)
        if name not in _WRAPPERS:
            break
        if name == "command" and i + 1 < len(words) and words[i + 1].text in ("-v", "-V"):
            return []  # `command -v curl` looks the program up; nothing runs
        takes_arg = _WRAPPERS[name]
        i += 1
        positional = 1 if name == "timeout" else 0  # timeout DURATION COMMAND
        while i < len(words):
            word = words[i].text
            if word == "--":
                i += 1
                break
            if word.startswith("-") and len(word) > 1:
                i += 2 if word in takes_arg else 1
            elif name == "env" and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
                i += 1
            elif positional:
                positional -= 1
                i += 1
            else:
                break
    return words[i:]


@dataclass(frozen=True)
class _Interp:
    name: str  # "sh", "python", …
    family: str  # "shell", "python", "perl", …, "eval", "source"
    code: Word | None  # the word run as code (-c, -e, eval's words)
    script: Word | None  # the file run
    stdin: bool  # whether it runs code read from stdin


def _interp_family(name: str) -> str | None:
    if name in SHELLS:
        return "shell"
    if _PYTHON.match(name):
        return "python"
    name = _INTERPRETER_NAMES.get(name, name)
    if name in _INTERPRETERS:
        return name
    return None


def _interpreter(words: list[Word]) -> _Interp | None:
    """What runs code in this command, and from where; None for a command that is no interpreter."""
    name, words = _program(words)
    if not words:
        return None
    if name == "eval":
        return _Interp(
            name, "eval", Word(" ".join(w.text for w in words[1:]), [s for w in words[1:] for s in w.subs]), None, False
        )
    if name in ("source", "."):
        return _Interp(name, "source", None, words[1] if len(words) > 1 else None, False)
    if name == "su":
        for j, word in enumerate(words[1:], start=1):
            if word.text in ("-c", "--command") and j + 1 < len(words):
                return _Interp(name, "shell", words[j + 1], None, False)
            if word.text.startswith("--command="):
                return _Interp(name, "shell", Word(word.text.split("=", 1)[1], word.subs), None, False)
        return None
    family = _interp_family(name)
    if family is None:
        return None
    if family == "shell":
        return _shell_interp(name, words)
    code_opts, arg_opts, stop_opts = _INTERPRETERS[family]
    j = 1
    while j < len(words):
        text = words[j].text
        if text in code_opts:
            return _Interp(name, family, words[j + 1] if j + 1 < len(words) else Word(), None, False)
        if family == "python" and text.startswith("-") and not text.startswith("--") and "c" in text[1:]:
            head, _, rest = text[1:].partition("c")
            if head.isalpha() or not head:  # -Ic / -c'code' clusters
                return _Interp(
                    name,
                    family,
                    Word(rest, words[j].subs) if rest else (words[j + 1] if j + 1 < len(words) else Word()),
                    None,
                    False,
                )
        if text in stop_opts or (family == "python" and text.startswith("-m")):
            return _Interp(name, family, None, None, False)
        if text == "-":
            return _Interp(name, family, None, None, True)
        if text == "--":
            j += 1
            break
        if text.startswith("-") and len(text) > 1:
            j += 2 if text in arg_opts else 1
            continue
        break
    script = words[j] if j < len(words) else None
    if script is not None and script.text in ("/dev/stdin", "/proc/self/fd/0"):
        return _Interp(name, family, None, None, True)
    return _Interp(name, family, None, script, script is None)


def _shell_interp(name: str, words: list[Word]) -> _Interp:
    code_flag = stdin_flag = False
    j = 1
    while j < len(words):
        text = words[j].text
        if text in ("--", "-"):
            j += 1
            stdin_flag = stdin_flag or text == "-"
            break
        if text in ("--rcfile", "--init-file"):
            j += 2
            continue
        if text.startswith("--"):
            j += 1
            continue
        if len(text) > 1 and text[0] in "-+" and text[1:].isalpha():
            letters = text[1:]
            code_flag = code_flag or "c" in letters
            stdin_flag = stdin_flag or "s" in letters
            j += 2 if letters.endswith("o") or letters.endswith("O") else 1
            continue
        break
    operand = words[j] if j < len(words) else None
    if code_flag:
        return _Interp(name, "shell", operand or Word(), None, False)
    if stdin_flag or operand is None:
        return _Interp(name, "shell", None, None, True)
    if operand.text in ("/dev/stdin", "/proc/self/fd/0"):
        return _Interp(name, "shell", None, None, True)
    return _Interp(name, "shell", None, operand, False)


def _url_word(text: str) -> bool:
    return bool(_URL.search(text))


def _program(words: list[Word]) -> tuple[str, list[Word]]:
    """The name of the program a command runs, and its words (wrappers and `busybox` removed)."""
    words = _unwrap(words)
    if words and _name(words[0]) == "busybox" and len(words) > 1:
        words = words[1:]
    return (_name(words[0]) if words else ""), words


def _stage_fetcher(command: Command, depth: int) -> str | None:
    """What fetches in one stage of a pipeline: a simple command, or a subshell or group's commands."""
    if command.body is not None:
        found = _fetches_in([command.body], depth)
        if found:
            return found
    return _fetcher(command, depth)


def _fetcher(command: Command, depth: int) -> str | None:
    """The name of what fetches from the network in this simple command (not its body), else None."""
    for redirect in command.redirects:
        if redirect.op in ("<", "<>", "<&") and _DEV_NET.match(redirect.target.text):
            return "/dev/tcp"
        found = _fetches_in(redirect.target.subs, depth)
        if found:
            return found
    name, words = _program(command.words)
    if not words:
        return None
    if name in _FETCHERS or (name in _NETCATS and (name != "openssl" or any(w.text == "s_client" for w in words))):
        return name
    interp = _interpreter(words)
    if interp is not None and interp.code is not None:
        if interp.family in ("shell", "eval"):
            found = _fetches_in([parse(interp.code.text)], depth)
            if found:
                return found
        elif _CODE_FETCH.search(interp.code.text) or _url_word(interp.code.text):
            return interp.name
    if name not in _PRINTERS and any(_url_word(w.text) and not w.subs for w in words[1:]):
        # A URL handed to some program: name a fetcher among the words when there is one (a cron
        # line's `* * * * * curl …` starts with its schedule).
        return next((_name(w) for w in words if _name(w) in _FETCHERS), name)
    return _fetches_in([sub for w in words for sub in w.subs], depth)


def _fetches_in(scripts: list[Script], depth: int) -> str | None:
    if depth >= _MAX_DEPTH:
        return None
    for script in scripts:
        for command in script.commands():
            found = _fetcher(command, depth + 1)
            if found:
                return found
    return None


# -- the classifier ------------------------------------------------------------------------


def download_and_run(command: str) -> str | None:
    """A short description when `command` fetches something and executes it (or hands a shell to the
    network); None otherwise. See the module doc for what counts and what does not."""
    try:
        return _classify(parse(command[:_MAX_LENGTH]), 0)
    except RecursionError:  # a pathological nesting: say nothing rather than fail the caller
        return None


def _classify(script: Script, depth: int) -> str | None:
    if depth > _MAX_DEPTH:
        return None
    for pipeline in script.pipelines:
        found = _pipeline(pipeline, depth)
        if found:
            return found
    fetched = _fetched_variables(script, depth)
    for command in script.commands():
        found = _command(command, fetched, depth)
        if found:
            return found
    return _downloaded_then_run(script)


def _pipeline(pipeline: list[Command], depth: int) -> str | None:
    """`fetch | … | interpreter`, a written-out download-and-run piped into a shell or `crontab`, and
    a network tool and a shell in one pipeline (a reverse shell: `… | sh -i 2>&1 | nc host port`)."""
    fetched = netcat = shell = printed = None
    for command in pipeline:
        interp = _interpreter(command.words)
        reader = (
            interp
            if interp is not None and interp.stdin and not any(r.op.startswith("<") for r in command.redirects)
            else None
        )
        name = _program(command.words)[0]
        if reader and fetched:
            return f"downloads with {fetched} and pipes it into {reader.name}"
        if (reader or name in ("crontab", "at", "batch")) and printed:
            return f"feeds a command that downloads and runs code ({printed}) to {reader.name if reader else name}"
        if reader and reader.family == "shell":
            shell = reader.name
        found = _stage_fetcher(command, depth)
        if found:
            fetched = fetched or found
            netcat = found if found in _NETCATS else netcat
        printed = printed or _printed_download(command, depth)
        if netcat and shell:
            return f"connects {shell} to the network with {netcat} (a reverse shell)"
    return None


def _printed_download(command: Command, depth: int) -> str | None:
    """`echo "curl … | sh"` (also inside `( … )`): a download-and-run written out, to be run later."""
    if command.body is not None:
        for inner in command.body.commands():
            found = _printed_download(Command(inner.words, inner.redirects), depth)
            if found:
                return found
    name, words = _program(command.words)
    if name not in _PRINTERS or depth >= _MAX_DEPTH:
        return None
    return next((found for w in words[1:] if w.text and (found := _classify(parse(w.text), depth + 1))), None)


_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=")


def _fetched_variables(script: Script, depth: int) -> set[str]:
    """Variables a script sets to what it downloads: `c=$(curl -s …)`."""
    names: set[str] = set()
    for command in script.commands():
        for word in command.words:
            match = _ASSIGNMENT.match(word.text)
            if not match:
                break
            if _fetches_in(word.subs, depth):
                names.add(match.group(1))
    return names


def _uses(text: str, variables: set[str]) -> bool:
    return any(f"${v}" in text or f"${{{v}}}" in text for v in variables)


def _command(command: Command, fetched: set[str], depth: int) -> str | None:
    name, words = _program(command.words)
    if not words:
        return None
    # The command word itself is a download: `$(curl -s …)`.
    found = _fetches_in(words[0].subs, depth)
    if found or _uses(words[0].text, fetched):
        return f"runs what {found or 'the script'} downloads as a command"
    interp = _interpreter(command.words)
    if interp is not None and interp.family in ("shell", "python", "perl", "ruby"):
        for redirect in command.redirects:
            if _DEV_NET.match(redirect.target.text):
                return f"connects {interp.name} to the network through /dev/{redirect.target.text.split('/')[2]} (a reverse shell)"
    if name in _NETCATS:
        return _netcat_exec(name, [w.text for w in words[1:]])
    written = next((r.target.text for r in command.redirects if r.op in (">", ">>", ">|")), None)
    if written is not None and _printed_download(command, depth):
        return f"writes a command that downloads and runs code into {written}"
    if interp is None:
        return None
    if interp.stdin:
        for redirect in command.redirects:
            if redirect.op not in ("<", "<<<", "<<"):
                continue
            found = _fetches_in(redirect.target.subs, depth)
            if found:
                return f"runs what {found} downloads with {interp.name}"
            if redirect.op == "<<":  # a here-document is the program
                inner = _code(interp, redirect.target.text, depth)
                if inner:
                    return inner
    for word in (interp.code, interp.script):
        if word is None:
            continue
        found = _fetches_in(word.subs, depth)
        if found or _uses(word.text, fetched):
            how = f"{interp.name} -c" if word is interp.code and interp.family == "shell" else interp.name
            return f"runs what {found or 'the script'} downloads with {how}"
    return _code(interp, interp.code.text, depth) if interp.code is not None else None


def _code(interp: _Interp, code: str, depth: int) -> str | None:
    """Code an interpreter runs: shell code is classified again; code in another language (python -c,
    perl -e, …) downloads and executes, hands a shell to a socket, or one of its string literals is
    itself a download-and-run command (`os.system('curl … | sh')`)."""
    if depth >= _MAX_DEPTH:
        return None
    if interp.family in ("shell", "eval", "source"):
        return _classify(parse(code), depth + 1)
    if _CODE_REVERSE.search(code) and "socket" in code.lower() and _CODE_SHELL.search(code):
        return f"connects a shell to the network in {interp.name} (a reverse shell)"
    if _CODE_FETCH.search(code) and _CODE_EXEC.search(code):
        return f"downloads code and executes it in {interp.name}"
    for match in _STRING_LITERAL.finditer(code):
        literal = next(g for g in match.groups() if g is not None)
        inner = _classify(parse(literal), depth + 1) if literal.strip() else None
        if inner:
            return f"{inner} (from {interp.name})"
    return None


def _netcat_exec(name: str, args: list[str]) -> str | None:
    if name in ("nc", "ncat", "netcat") and any(
        a in ("-e", "-c", "--exec", "--sh-exec", "--lua-exec") or re.fullmatch(r"-[A-Za-z]*[ec]", a) for a in args
    ):
        return f"hands a program to the network with {name} -e (a reverse shell)"
    lowered = [a.lower() for a in args]
    if (
        name == "socat"
        and any(a.startswith(("exec:", "system:")) for a in lowered)
        and any(a.startswith(("tcp", "udp", "openssl", "ssl")) for a in lowered)
    ):
        return "connects a program to the network with socat (a reverse shell)"
    return None


# -- download to a file, then run it -------------------------------------------------------

_UNKNOWN = "\0"  # a download whose file name is not known
# Program -> (its short option letter and long option naming the output file; "-" is stdout).
_OUTPUT_OPTIONS = {
    "curl": ("o", "--output"),
    "wget": ("O", "--output-document"),
    "aria2c": ("o", "--out"),
    "axel": ("o", "--output"),
    "fetch": ("o", "--output"),
}


def _downloaded_then_run(script: Script) -> str | None:
    downloaded: dict[str, str] = {}  # file name -> the program that fetched it
    executable: set[str] = set()
    for command in script.commands():
        name, words = _program(command.words)
        if not words:
            continue
        if name in _FETCHERS:
            for target in _outputs(name, [w.text for w in words[1:]], command.redirects):
                downloaded[target] = name
            continue
        if not downloaded:
            continue
        if name == "chmod":
            if len(words) > 2 and _adds_exec(words[1].text):
                executable.update(posixpath.basename(w.text) for w in words[2:])
            continue
        interp = _interpreter(words)
        if interp is not None and interp.script is None:
            continue
        file, how = (interp.script.text, interp.name) if interp is not None and interp.script else (words[0].text, "")
        base = posixpath.basename(file)
        # A download of unknown name matches a file run by an interpreter, or one made executable.
        fetcher = downloaded.get(base) or (downloaded.get(_UNKNOWN) if how or base in executable else None)
        if fetcher:
            made = ", makes it executable" if base in executable else ""
            return f"downloads {base} with {fetcher}{made} and runs it" + (f" with {how}" if how else "")
    return None


def _adds_exec(mode: str) -> bool:
    if re.fullmatch(r"0?[0-7]{3,4}", mode):
        return any(int(d) & 1 for d in mode[-3:])
    return bool(re.search(r"\+[rwXst]*x", mode))


def _outputs(name: str, args: list[str], redirects: list[Redirect]) -> list[str]:
    """Where a fetch writes: its output file names (basenames), `_UNKNOWN` where a name is not known."""
    out = [posixpath.basename(r.target.text) for r in redirects if r.op in (">", ">>", ">|")]
    remote = [_remote_name(a) for a in args if _url_word(a) or HOLE in a] or [_UNKNOWN]
    if name in _OUTPUT_OPTIONS:
        short, long = _OUTPUT_OPTIONS[name]
        named = False
        for j, arg in enumerate(args):
            following = args[j + 1] if j + 1 < len(args) else ""
            if arg == long or arg.startswith(long + "="):
                value = arg.split("=", 1)[1] if "=" in arg else following
            elif re.fullmatch(rf"-[A-Za-z]*{short}.*", arg):
                value = arg[arg.index(short) + 1 :] or following
            elif name == "curl" and (
                arg in ("--remote-name", "--remote-name-all") or re.fullmatch(r"-[A-Za-z]*O[A-Za-z]*", arg)
            ):
                out.extend(remote)
                continue
            else:
                continue
            named = True
            if value != "-":
                out.append(posixpath.basename(value))
        if not named and name != "curl":  # wget & co. save under the remote name; curl writes to stdout
            out.extend(remote)
    elif name == "tftp":  # busybox `tftp -g -r FILE host`, or `tftp host -c get FILE`
        out.extend(posixpath.basename(args[j + 1]) for j, a in enumerate(args[:-1]) if a in ("-r", "-l", "get"))
    elif name == "ftpget":  # ftpget HOST LOCAL REMOTE
        operands = [a for a in args if not a.startswith("-")]
        out.extend(posixpath.basename(o) for o in operands[1:2])
    elif name in ("scp", "rsync", "lwp-download") and args:
        out.append(posixpath.basename(args[-1]) or _UNKNOWN)
    return out


def _remote_name(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0]
    path = path.split("://", 1)[1] if "://" in path else path
    base = posixpath.basename(path) if "/" in path else ""
    return _UNKNOWN if not base or HOLE in base else base


# -- argv ----------------------------------------------------------------------------------


def shell_command(argv: Sequence[str]) -> str | None:
    """The command string when `argv` runs a shell with `-c` (`sh -c`, `bash -lc`, `/usr/bin/env bash
    -c`, `sudo sh -c`, `busybox sh -c`, …); None otherwise (no shell, or a shell without `-c`)."""
    name, words = _program([Word(str(a)) for a in argv])
    if name not in SHELLS:
        return None
    interp = _shell_interp(name, words)
    return interp.code.text if interp.code is not None else None


def stdin_interpreter(argv: Sequence[str]) -> str | None:
    """The interpreter's name when `argv` runs code it reads from stdin (`["sh"]`, `["bash", "-s"]`,
    `["python3", "-"]`); None otherwise."""
    interp = _interpreter([Word(str(a)) for a in argv])
    return interp.name if interp is not None and interp.stdin else None


def join(argv: Sequence[str]) -> str:
    """An argv as one shell command, for `download_and_run` (each item stays one word)."""
    return shlex.join(str(a) for a in argv)
