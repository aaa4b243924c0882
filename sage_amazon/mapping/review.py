"""Mapping review (issue 16.10): what no mapping covers yet, with suggested matches an operator confirms.

- Unmapped SKUs: order lines to post without a Sage item (marts.sage_order_lines.item IS NULL). Suggestions by
  similarity (rapidfuzz) of the SKU to the Sage item codes (the item master read into ref.sage_item_codes, and the
  items aliases already point at), and by history: the product title of the SKU against the titles of SKUs that
  already map, whose item is proposed.
- Unmapped fee types: settlement keys no account-map rule matched (staging.stg_settlement_categories.is_suspense).
  Suggestions: the roles of account-map rules whose description pattern resembles the fee's amount-description,
  and by history the roles of fee types already mapped with a similar name.

Nothing is applied: each row says what to add (skus.yaml alias, accounts.yaml rule) in the mapping folder; after
that, a replay of the dead letters (or a re-run of the settlement) posts them. Written to marts.mapping_review.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

TABLE = "marts.mapping_review"
MIN_SCORE = 60.0  # below this a "suggestion" is noise
MAX_SUGGESTIONS = 3


@dataclass
class Suggestion:
    value: str  # the Sage item or the account-map role
    score: float  # 0-100
    basis: str  # why: "code like ...", "title like SKU ...", "rule ...", "like fee ..."

    def text(self) -> str:
        return f"{self.value} ({self.score:.0f}: {self.basis})"


@dataclass
class ReviewRow:
    kind: str  # sku | fee
    name: str  # the SKU, or "transaction-type / amount-type / amount-description"
    detail: str  # the product title, or the marketplaces and settlements concerned
    occurrences: int  # orders held, or settlement lines in suspense
    amount: Decimal | None  # the fee lines' total (None for SKUs)
    suggestions: list[Suggestion] = field(default_factory=list)
    fix: str = ""  # what to add where

    @property
    def best(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None


def _exists(con, table: str) -> bool:
    schema, name = table.split(".")
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?",
                            [schema, name]).fetchone()[0])


def _columns(con, table: str) -> set[str]:
    schema, name = table.split(".")
    return {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                                      "AND table_name = ?", [schema, name]).fetchall()}


def _rank(query: str, choices: dict[str, str], scorer, basis) -> list[tuple[str, float, str]]:
    """(choice value, score, basis) for the choices' keys most similar to the query."""
    from rapidfuzz import process, utils

    if not query or not choices:
        return []
    found = process.extract(query, list(choices), scorer=scorer, processor=utils.default_process,
                            limit=MAX_SUGGESTIONS * 2, score_cutoff=MIN_SCORE)
    return [(choices[key], float(score), basis(key)) for key, score, _ in found]


def _merge(ranked: list[tuple[str, float, str]]) -> list[Suggestion]:
    best: dict[str, Suggestion] = {}
    for value, score, basis in ranked:
        if value not in best or score > best[value].score:
            best[value] = Suggestion(value, round(score, 1), basis)
    return sorted(best.values(), key=lambda s: (-s.score, s.value))[:MAX_SUGGESTIONS]


def unmapped_skus(con, target: str = "x3") -> list[ReviewRow]:
    from rapidfuzz import fuzz

    if not _exists(con, "marts.sage_order_lines"):
        return []
    titles = "raw.amazon_order_items" if _exists(con, "raw.amazon_order_items") and "title" in _columns(
        con, "raw.amazon_order_items") else None
    title_of = dict(con.execute(f"SELECT sku, any_value(title) FROM {titles} GROUP BY sku").fetchall()) if titles else {}
    unmapped = con.execute("""SELECT trim(sku) AS sku, count(DISTINCT amazon_order_id) FROM marts.sage_order_lines
                              WHERE item IS NULL AND sku IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1""").fetchall()
    mapped = con.execute("""SELECT trim(sku), any_value(item) FROM marts.sage_order_lines
                            WHERE item IS NOT NULL GROUP BY 1""").fetchall()
    items = {r[0] for r in con.execute("SELECT item FROM ref.sage_item_codes").fetchall()} if _exists(
        con, "ref.sage_item_codes") else set()
    if _exists(con, "ref.sku_map"):
        items |= {r[0] for r in con.execute("SELECT item FROM ref.sku_map WHERE item IS NOT NULL").fetchall()}
    items |= {item for _, item in mapped if item}
    codes = {item: item for item in items}
    known_titles = {title_of[sku]: item for sku, item in mapped if title_of.get(sku)}
    sku_of_title = {title_of[sku]: sku for sku, _ in mapped if title_of.get(sku)}
    rows = []
    for sku, orders in unmapped:
        title = title_of.get(sku) or ""
        ranked = _rank(sku, codes, fuzz.WRatio, lambda item: "code like the SKU")
        ranked += _rank(title, known_titles, fuzz.token_set_ratio,
                        lambda t: f"title like SKU {sku_of_title[t]}'s")
        suggestions = _merge(ranked)
        fix = (f"skus.yaml aliases.{target}: {sku}: {suggestions[0].value}" if suggestions
               else f"skus.yaml aliases.{target}: {sku}: <Sage item>")
        rows.append(ReviewRow("sku", sku, title, int(orders), None, suggestions, fix))
    return rows


def _pattern_name(pattern: str) -> str:
    return " ".join(part for part in pattern.replace("%", " ").replace("_", " ").split() if part)


def unmapped_fees(con) -> list[ReviewRow]:
    from rapidfuzz import fuzz

    if not _exists(con, "staging.stg_settlement_categories"):
        return []
    unmapped = con.execute("""
        SELECT transaction_type, amount_type, amount_description, sum(line_count), sum(amount),
               string_agg(DISTINCT marketplace, ', '), count(DISTINCT settlement_id)
        FROM staging.stg_settlement_categories WHERE is_suspense
        GROUP BY ALL ORDER BY abs(sum(amount)) DESC, 3""").fetchall()
    if not unmapped:
        return []
    history = {f"{a} {d}": role for a, d, role in con.execute("""
        SELECT DISTINCT amount_type, amount_description, role FROM staging.stg_settlement_categories
        WHERE NOT is_suspense AND amount_description IS NOT NULL""").fetchall()}
    rules: dict[str, str] = {}
    if _exists(con, "ref.settlement_account_map"):
        for pattern, role in con.execute("""SELECT DISTINCT description_like, role FROM ref.settlement_account_map
                                            WHERE kind = 'rule' AND description_like NOT IN ('%', '')""").fetchall():
            name = _pattern_name(pattern or "")
            if name:
                rules.setdefault(name, role)
    rows = []
    for ttype, atype, desc, lines, amount, markets, settlements in unmapped:
        name = f"{ttype} / {atype} / {desc}"
        ranked = _rank(desc or "", rules, fuzz.WRatio, lambda r: f"rule '{r}'")
        ranked += _rank(f"{atype} {desc}", history, fuzz.token_set_ratio, lambda h: f"like mapped fee '{h}'")
        suggestions = _merge(ranked)
        role = suggestions[0].value if suggestions else "<role>"
        fix = (f'accounts.yaml rules: - {{transaction_type: "{ttype}", amount_type: "{atype}", description: "{desc}", '
               f"role: {role}}}")
        rows.append(ReviewRow("fee", name, f"{markets or ''}; {int(settlements)} settlement(s)", int(lines),
                              Decimal(amount).quantize(Decimal("0.01")), suggestions, fix))
    return rows


def refresh(con, target: str = "x3") -> list[ReviewRow]:
    """Compute the review and write it to marts.mapping_review (one row per unmapped SKU or fee type)."""
    rows = unmapped_skus(con, target) + unmapped_fees(con)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute(f"""CREATE OR REPLACE TABLE {TABLE} (kind VARCHAR, name VARCHAR, detail VARCHAR, occurrences INTEGER,
                    amount DECIMAL(18, 2), best VARCHAR, best_score DOUBLE, suggestions VARCHAR, fix VARCHAR)""")
    if rows:
        con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", [
            [r.kind, r.name, r.detail, r.occurrences, r.amount, r.best.value if r.best else None,
             r.best.score if r.best else None, "; ".join(s.text() for s in r.suggestions), r.fix] for r in rows])
    return rows
