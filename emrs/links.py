"""Links built many times a page without url_for's cost each time.

url_for costs tens of microseconds a call, and a patient page has dozens of links (fifty
timeline entries, the actions, the menu). A link's *shape* — its endpoint, its fixed
arguments and which arguments are ids — is learned once from url_for itself, with stand-in
ids, and afterwards the ids are put in place. Whatever url_for would treat differently falls
back to url_for (see ``template_url_for``); tests compare the two on every route.
"""
from __future__ import annotations

from typing import Callable

from flask import current_app, request, url_for
from werkzeug.routing import BuildError

INT_MAX = 2_147_483_647  # the id converters' max
_MARKER = 2_147_483_600  # + the id's position: stands in for an id while a shape is learned

Shape = tuple[tuple[str, ...], tuple[str, ...]]  # (literal pieces, id names in the order they appear)


def shape(endpoint: str, ids: tuple[str, ...], fixed: dict) -> Shape | None:
    """The shape of url_for(endpoint, **fixed, **{each of ids: an id}), or None when the
    stand-ins cannot be told apart in the answer (no shortcut)."""
    markers = {name: str(_MARKER + i) for i, name in enumerate(ids)}
    try:
        probe = url_for(endpoint, **fixed, **{name: int(m) for name, m in markers.items()})
    except BuildError:
        return None
    if any(probe.count(m) != 1 for m in markers.values()):
        return None
    order = sorted(ids, key=lambda name: probe.index(markers[name]))
    pieces, rest = [], probe
    for name in order:
        head, rest = rest.split(markers[name], 1)
        pieces.append(head)
    pieces.append(rest)
    return tuple(pieces), tuple(order)


def url_maker(endpoint: str, key: str, **values) -> Callable[[int], str]:
    """`url_for(endpoint, **values, key=id)` for many ids, as a function of the id."""
    found = shape(endpoint, (key,), values)
    if found is None:
        return lambda i: url_for(endpoint, **values, **{key: i})
    (head, tail), _ = found
    return lambda i: f"{head}{int(i)}{tail}"


def template_url_for(endpoint: str, **values) -> str:
    """url_for() as the templates call it, e.g. ``url_for('patients.show', patient_id=p.id)``:
    each shape (endpoint, argument names, string arguments) is kept per application and mount
    point. Anything else — a relative endpoint, ``_external`` or another ``_`` option, an id
    outside 1…2147483647, a value that is not an int or a string, a rule that refuses the
    stand-in — is url_for's as before."""
    ids, texts = [], []
    for name, value in values.items():
        kind = type(value)
        if kind is int and 0 < value <= INT_MAX:
            ids.append(name)
        elif kind is str and name[:1] != "_":
            texts.append((name, value))
        else:
            return url_for(endpoint, **values)
    if endpoint[:1] == ".":
        return url_for(endpoint, **values)
    cache = current_app.extensions.setdefault("emrs.url_shapes", {})
    key = (request.script_root, endpoint, tuple(sorted(ids)), tuple(sorted(texts)))
    found = cache.get(key)
    if found is None:
        found = shape(endpoint, key[2], dict(texts)) or False
        if len(cache) < 4096:  # the templates' call sites: never grows without bound
            cache[key] = found
    if not found:
        return url_for(endpoint, **values)
    pieces, names = found
    out = [pieces[0]]
    for name, piece in zip(names, pieces[1:]):
        out.append(str(values[name]))
        out.append(piece)
    return "".join(out)
