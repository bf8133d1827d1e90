"""Customer import from the files people have: CSV in UTF-8 (with or without BOM), GB18030/GBK
from Excel, or .xlsx; Chinese or English headers; a dry run before anything is written.

* **Encoding.** Given, or detected exactly: UTF-8 (a BOM is dropped) is tried first, then
  GB18030 (a superset of GBK and GB2312, what Excel writes on Chinese Windows). UTF-8 text
  that is not valid UTF-8 is rare enough that this order never mistakes one for the other on
  Chinese data; no statistical guessing is needed.
* **Headers.** ``HEADER_ALIASES`` maps the usual Chinese and English column names
  (客户名称/公司名称, 联系人, 手机/电话, 邮箱, 统一社会信用代码, 地址 …) to fields;
  a ``mapping`` argument (header → field, or header → ``None`` to ignore it) wins. Headers are
  compared after NFKC, case folding and dropping spaces, ``*`` and ``（必填）``-style notes.
  Several columns may feed ``phones``/``emails`` (手机 and 电话).
* **Dry run.** ``plan_import`` reads and checks every row — each bad field named
  (``rows[3].phones[0]``), duplicates of the book and of earlier rows of the file found — and
  writes nothing.
* **Commit.** ``commit_import`` writes the planned rows in batches; each batch is one unit of
  work (all its rows or none); a row that names a contact (联系人) creates the contact too.
  Every row's fields are checked again before the first batch, so a plan edited or made by
  hand with a bad field writes nothing. Customer ids are derived from the import id and the
  row number, so running the same import again skips the batches already written: a failed
  or interrupted import is resumed by calling it again. In strict mode (the default) a plan
  with any rejected row writes nothing at all.
* ``.xlsx`` needs the optional ``xlsx`` extra (openpyxl).
"""

from __future__ import annotations

import codecs
import csv
import importlib
import io
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.dedup import collision_report
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.collision import DedupKey, Outcome, RecordRef, candidate_keys
from leadtocash.errors import DuplicateKey, FieldError, RuleViolation, ValidationError
from leadtocash.fields import length_errors
from leadtocash.model import Contact, ContactId, Customer, CustomerId, PoolId

__all__ = [
    "HEADER_ALIASES",
    "IMPORT_FIELDS",
    "ImportCommitReport",
    "ImportPlan",
    "ImportService",
    "PlannedRow",
    "Table",
    "csv_rows",
    "customer_id_for",
    "decode",
    "map_headers",
    "read_table",
]

#: Fields an import row may fill: the customer's, and its contact's name (联系人; the contact
#: gets the row's first phone and e-mail). A column the customer cannot hold (渠道, 备注) is
#: not read: the plan lists it in ``unmapped_headers``.
IMPORT_FIELDS = ("name", "contact_name", "phones", "emails", "uscc", "address")
_MULTI = frozenset({"phones", "emails"})

#: Built-in header aliases (compared after ``_header_key``).
HEADER_ALIASES: Mapping[str, tuple[str, ...]] = {
    "name": ("name", "客户名称", "公司名称", "企业名称", "单位名称", "客户", "公司", "名称",
             "company", "companyname", "customer", "customername", "account", "accountname"),
    "contact_name": ("联系人", "联系人姓名", "姓名", "contact", "contactname", "contactperson"),
    "phones": ("phones", "phone", "手机", "手机号", "手机号码", "电话", "联系电话", "座机",
               "固定电话", "mobile", "tel", "telephone", "phonenumber", "cell"),
    "emails": ("emails", "email", "邮箱", "电子邮箱", "电子邮件", "邮件", "e-mail", "mail"),
    "uscc": ("uscc", "统一社会信用代码", "社会信用代码", "信用代码", "creditcode",
             "unifiedsocialcreditcode", "taxid", "纳税人识别号"),
    "address": ("address", "地址", "公司地址", "详细地址", "办公地址"),
}  # fmt: skip

_ENCODINGS = ("utf-8-sig", "gb18030")


def csv_rows(text: str, dialect: Any = csv.excel, *, path: str) -> list[list[str]]:
    """The rows of CSV ``text`` (any line ends); text the csv module cannot read is a
    ValidationError ``import.malformed`` on ``path``."""
    try:
        return list(csv.reader(io.StringIO(text, newline=""), dialect))
    except csv.Error as exc:
        raise ValidationError.single(path, "import.malformed", f"not CSV: {exc}") from None


def decode(data: bytes, encoding: str | None = None) -> tuple[str, str]:
    """``(text, encoding)``: decoded as ``encoding``, or as UTF-8 (BOM dropped) else GB18030.

    The encoding reported is ``utf-8-sig`` when a BOM was present, ``utf-8`` or ``gb18030``.
    Undecodable bytes are a ValidationError on ``file``.
    """
    if encoding:
        try:
            codecs.lookup(encoding)
        except (LookupError, ValueError):  # unknown, or a name no codec can have
            raise ValidationError.single(
                "encoding", "import.encoding", f"{encoding!r} is not a known encoding"
            ) from None
    tries = (encoding,) if encoding else _ENCODINGS
    for name in tries:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        if name == "utf-8-sig" and not data.startswith(b"\xef\xbb\xbf"):
            name = "utf-8"
        return text, name
    raise ValidationError.single(
        "file", "import.encoding", f"the file is not {' or '.join(tries)} text"
    )


@attrs.frozen
class Table:
    """A file read as a header row and data rows (cells as text), and how it was read."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    encoding: str | None = None
    format: str = "csv"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone typed as a number in Excel
    return str(value).strip()


def read_table(
    data: bytes,
    *,
    filename: str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> Table:
    """Read CSV (comma, semicolon or tab separated) or .xlsx (by name or by its zip magic)."""
    is_xlsx = (filename or "").lower().endswith((".xlsx", ".xlsm")) or data[:2] == b"PK"
    if is_xlsx:
        return _read_xlsx(data, sheet)
    text, used = decode(data, encoding)
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    lines = [row for row in csv_rows(text, dialect, path="file") if any(c.strip() for c in row)]
    if not lines:
        raise ValidationError.single("file", "import.empty", "the file has no header row")
    headers = tuple(h.strip() for h in lines[0])
    return Table(headers, tuple(tuple(c.strip() for c in row) for row in lines[1:]), used, "csv")


def _read_xlsx(data: bytes, sheet: str | None) -> Table:
    try:
        openpyxl = importlib.import_module("openpyxl")
    except ImportError:
        raise ValidationError.single(
            "file", "import.xlsx_unavailable", "reading .xlsx needs the xlsx extra (openpyxl)"
        ) from None
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ValidationError.single(
            "file", "import.unreadable", f"not an .xlsx workbook ({type(exc).__name__})"
        ) from None
    ws = book[sheet] if sheet else book.worksheets[0]
    lines = [
        tuple(_cell(v) for v in row)
        for row in ws.iter_rows(values_only=True)
        if any(_cell(v) for v in row)
    ]
    book.close()
    if not lines:
        raise ValidationError.single("file", "import.empty", "the sheet has no header row")
    return Table(lines[0], tuple(lines[1:]), None, "xlsx")


def _header_key(header: str) -> str:
    text = unicodedata.normalize("NFKC", header).casefold()
    for note in ("(必填)", "(选填)", "(可选)", "(required)", "(optional)"):
        text = text.replace(note, "")
    return "".join(ch for ch in text if ch.isalnum() or ch == "-")


_ALIAS_INDEX = {
    _header_key(alias): field for field, aliases in HEADER_ALIASES.items() for alias in aliases
}


def map_headers(
    headers: Sequence[str], mapping: Mapping[str, str | None] | None = None
) -> tuple[dict[int, str], tuple[str, ...]]:
    """``({column: field}, unmapped headers)``; ``mapping`` (header → field or None) wins.

    A mapping to a field that does not exist is a ValidationError on ``mapping.<header>``.
    """
    user = {_header_key(k): v for k, v in (mapping or {}).items()}
    bad = [k for k, v in (mapping or {}).items() if v is not None and v not in IMPORT_FIELDS]
    if bad:
        raise ValidationError(
            [
                FieldError(f"mapping.{k}", "import.field", f"use one of {', '.join(IMPORT_FIELDS)}")
                for k in bad
            ]
        )
    columns: dict[int, str] = {}
    unmapped: list[str] = []
    for index, header in enumerate(headers):
        key = _header_key(header)
        field = user[key] if key in user else _ALIAS_INDEX.get(key)
        if field is None:
            if header.strip():
                unmapped.append(header)
            continue
        if field in columns.values() and field not in _MULTI:
            unmapped.append(header)  # a second 客户名称 column is not read
            continue
        columns[index] = field
    if "name" not in columns.values():
        raise ValidationError.single(
            "headers", "import.no_name_column", "no column maps to the company name"
        )
    return columns, tuple(unmapped)


def _split(value: str) -> list[str]:
    for sep in ("；", "，", "、", "/", "\n"):
        value = value.replace(sep, ";")
    return [part.strip() for part in value.split(";") if part.strip()]


def _fields(row: Sequence[str], columns: Mapping[int, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {"phones": [], "emails": []}
    for index, field in columns.items():
        value = row[index].strip() if index < len(row) else ""
        if field in _MULTI:
            fields[field].extend(_split(value))
        elif value:
            fields[field] = value
    return fields


@attrs.frozen
class PlannedRow:
    """One data row after the dry run.

    ``number`` is the row's line in the file (the header is line 1). ``status`` is ``ok``,
    ``rejected`` (``errors`` names every bad field, as ``rows[<i>].<field>``), ``duplicate``
    (``duplicate_of`` is the existing record a blocking key matches) or ``duplicate_in_file``
    (``duplicate_of_row`` is the earlier row with the same blocking key).
    """

    index: int
    fields: Mapping[str, Any]
    errors: tuple[FieldError, ...] = ()
    duplicate_of: RecordRef | None = None
    duplicate_of_row: int | None = None
    warnings: tuple[str, ...] = ()

    @property
    def number(self) -> int:
        """The row's line in the file."""
        return self.index + 2

    @property
    def status(self) -> str:
        """``ok``, ``rejected``, ``duplicate`` or ``duplicate_in_file``."""
        if self.errors:
            return "rejected"
        if self.duplicate_of is not None:
            return "duplicate"
        return "duplicate_in_file" if self.duplicate_of_row is not None else "ok"


@attrs.frozen
class ImportPlan:
    """The dry-run report: every row's status, how the file was read, nothing written."""

    rows: tuple[PlannedRow, ...]
    columns: Mapping[str, str]
    unmapped_headers: tuple[str, ...]
    encoding: str | None
    format: str

    def count(self, status: str) -> int:
        """How many rows have ``status``."""
        return sum(1 for row in self.rows if row.status == status)

    @property
    def errors(self) -> tuple[FieldError, ...]:
        """Every bad field of every rejected row."""
        return tuple(e for row in self.rows for e in row.errors)


@attrs.frozen
class ImportCommitReport:
    """What a commit wrote: created customer ids, batches written now and skipped (done)."""

    import_id: str
    created: tuple[CustomerId, ...]
    batches_written: int
    batches_skipped: int
    skipped_rows: tuple[int, ...] = ()


@attrs.frozen
class Imported:
    """What one row of an import creates: the customer, and its contact when the row names
    one (联系人)."""

    customer: Customer
    contact: Contact | None = None


def customer_id_for(import_id: str, index: int) -> CustomerId:
    """The id of the customer row ``index`` of import ``import_id`` creates (stable on resume)."""
    return CustomerId(f"{import_id}-r{index:06d}")


@attrs.frozen
class ImportService:
    """Dry run and batched, resumable commit of customer imports (methods of CollisionService)."""

    ctx: AppContext
    customers: CustomerWrites

    def plan(
        self,
        principal: Principal,
        data: bytes,
        *,
        filename: str | None = None,
        encoding: str | None = None,
        mapping: Mapping[str, str | None] | None = None,
        sheet: str | None = None,
    ) -> ImportPlan:
        """Read and check ``data`` (see the module docstring); nothing is written."""
        self.ctx.policy.check(principal, Action.CUSTOMER_CREATE)
        table = read_table(data, filename=filename, encoding=encoding, sheet=sheet)
        columns, unmapped = map_headers(table.headers, mapping)
        policy = self.ctx.collision

        def query(uow: UnitOfWork) -> tuple[PlannedRow, ...]:
            planned: list[PlannedRow] = []
            seen: dict[DedupKey, int] = {}
            for index, raw in enumerate(table.rows):
                fields = _fields(raw, columns)
                try:
                    self._build(customer_id_for("plan", index), fields, None)
                    keys = candidate_keys(
                        name=fields.get("name", ""), phones=fields["phones"],
                        emails=fields["emails"], uscc=fields.get("uscc"),
                    )  # fmt: skip
                except ValidationError as exc:
                    planned.append(PlannedRow(index, fields, errors=_in_row(index, exc)))
                    continue
                report = collision_report(uow, policy, principal, keys)
                blocking = report.records(Outcome.BLOCK)
                blocking_keys = [k for k in keys if policy.outcome_for(k.kind) is Outcome.BLOCK]
                earlier = next((seen[k] for k in blocking_keys if k in seen), None)
                warnings = tuple(hit.describe() for hit in report.warnings)
                if blocking:
                    planned.append(PlannedRow(index, fields, duplicate_of=blocking[0],
                                              warnings=warnings))  # fmt: skip
                elif earlier is not None:
                    planned.append(PlannedRow(index, fields, duplicate_of_row=earlier,
                                              warnings=warnings))  # fmt: skip
                else:
                    for key in blocking_keys:
                        seen.setdefault(key, index)
                    planned.append(PlannedRow(index, fields, warnings=warnings))
            return tuple(planned)

        rows = self.ctx.read(principal, Action.CUSTOMER_READ, query)
        named = {table.headers[i]: field for i, field in columns.items()}
        return ImportPlan(rows, named, unmapped, table.encoding, table.format)

    def commit(
        self,
        principal: Principal,
        plan: ImportPlan,
        *,
        import_id: str,
        pool_id: PoolId | None,
        batch_size: int = 500,
        strict: bool = True,
    ) -> ImportCommitReport:
        """Write the ``ok`` rows of ``plan`` in batches of ``batch_size``, each atomic; batches
        an earlier run of ``import_id`` wrote are skipped. Strict: any rejected row, nothing."""
        if batch_size < 1:
            raise ValidationError.single("batch_size", "field.not_positive", "must be at least 1")
        if not import_id or not import_id.strip():
            raise ValidationError.single("import_id", "field.required", "an import id is required")
        if strict and plan.errors:
            raise ValidationError(list(plan.errors))
        ok = [row for row in plan.rows if row.status == "ok"]
        skipped = tuple(row.index for row in plan.rows if row.status != "ok")
        # Every row is checked again before the first batch: a plan is the caller's value (kept
        # between the dry run and the commit, perhaps serialized), so a bad one writes nothing.
        built = self._built(ok, import_id, pool_id)
        created: list[CustomerId] = []
        written = done = 0
        for start in range(0, len(built), batch_size):
            batch = built[start : start + batch_size]
            ids = [row.customer.id for row in batch]
            with self.ctx.unit_of_work() as uow:
                already = uow.customers.find(ids[0]) is not None
            if already:  # written by an earlier run of this import: all or nothing per batch
                done += 1
                created.extend(ids)
                continue
            self._write(principal, batch)
            written += 1
            created.extend(ids)
        return ImportCommitReport(import_id, tuple(created), written, done, skipped)

    def _build(
        self, customer_id: CustomerId, fields: Mapping[str, Any], pool_id: PoolId | None
    ) -> Imported:
        """The customer (and contact) a row's fields make; a ValidationError names every bad
        field (texts of the wrong type included, as a hand-made plan may hold)."""
        errors: list[FieldError] = []
        name = _text(errors, fields, "name") or ""
        uscc, address = _text(errors, fields, "uscc"), _text(errors, fields, "address")
        phones, emails = _texts(errors, fields, "phones"), _texts(errors, fields, "emails")
        contact_name = (_text(errors, fields, "contact_name") or "").strip()
        errors += length_errors({"contact_name": contact_name})
        try:
            customer = self.customers.build(
                customer_id, name, pool_id=pool_id, phones=phones, emails=emails, uscc=uscc,
                address=address,
            )  # fmt: skip
        except ValidationError as exc:
            errors += [e for e in exc.errors if e.path not in {f.path for f in errors}]
        if errors:
            raise ValidationError(errors)
        contact = None
        if contact_name:  # the person the row names, reached at the row's first phone and e-mail
            contact = Contact(
                ContactId(f"{customer_id}-contact"), customer_id, contact_name,
                phone=next(iter(customer.phones), None), email=next(iter(customer.emails), None),
            )  # fmt: skip
        return Imported(customer, contact)

    def _built(
        self, rows: Sequence[PlannedRow], import_id: str, pool_id: PoolId | None
    ) -> list[Imported]:
        """What ``rows`` make, or one ValidationError naming every bad field."""
        built: list[Imported] = []
        errors: list[FieldError] = []
        for row in rows:
            customer_id = customer_id_for(import_id, row.index)
            try:
                built.append(self._build(customer_id, row.fields, pool_id))
            except ValidationError as exc:
                errors += _in_row(row.index, exc)
        if errors:
            raise ValidationError(errors)
        return built

    def _write(self, principal: Principal, batch: Sequence[Imported]) -> None:
        def command(uow: UnitOfWork) -> tuple[None, list[Change]]:
            changes: list[Change] = []
            for row in batch:
                changes.extend(self.customers.stage_new(uow, principal, row.customer)[1])
                if row.contact is not None:
                    uow.contacts.add(row.contact)
                    changes.append(Change("contact", row.contact.id, None, row.contact))
            return None, changes

        try:
            self.ctx.execute(principal, Action.CUSTOMER_CREATE, command)
        except DuplicateKey as exc:  # created meanwhile by someone else: plan again, rerun
            raise RuleViolation(
                f"another customer already holds {exc.key!r}; plan the import again",
                code="collision.duplicate",
                details={"key": exc.key, "existing": {"kind": exc.kind, "id": exc.existing_id}},
            ) from exc


def _text(errors: list[FieldError], fields: Mapping[str, Any], name: str) -> str | None:
    """Field ``name`` of a row: text or absent; anything else is a ``field.type`` error."""
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    errors.append(FieldError(name, "field.type", "must be text"))
    return None


def _texts(errors: list[FieldError], fields: Mapping[str, Any], name: str) -> list[str]:
    """Field ``name`` of a row: a list of texts (absent: none)."""
    value = fields.get(name, ())
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return list(value)
    errors.append(FieldError(name, "field.type", "must be a list of texts"))
    return []


def _in_row(index: int, exc: ValidationError) -> tuple[FieldError, ...]:
    """``exc``'s errors under ``rows[<index>].``, each path once."""
    return _unique(attrs.evolve(e, path=f"rows[{index}].{e.path}") for e in exc.errors)


def _unique(errors: Any) -> tuple[FieldError, ...]:
    return tuple(dict.fromkeys(errors))
