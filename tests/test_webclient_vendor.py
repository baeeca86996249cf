"""The demo game's copies of the libraries Evennia's templates take from CDNs."""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import re

import pytest

from demo import webclient_vendor as vendor

needs_evennia = pytest.mark.skipif(
    importlib.util.find_spec("evennia") is None,
    reason="needs Evennia (its templates): pip install 'contrib-awsstorage[evennia]'",
)


def evennia_template(name: str) -> str:
    return (vendor.evennia_web_dir() / "templates" / name).read_text()


@needs_evennia
@pytest.mark.parametrize("name", vendor.TEMPLATES)
def test_override_links_no_third_party_resource(name):
    text = vendor.local_template(name, evennia_template(name))
    assert vendor._EXTERNAL_RESOURCE.findall(vendor._HTML_COMMENT.sub("", text)) == []
    assert "/static/" not in re.sub(r"{%.*?%}", "", vendor._HTML_COMMENT.sub("", text))
    linked = re.findall(r'{% static "(vendor/[^"]+)" %}', text)
    assert linked, text
    assert set(linked) <= {f.static_name for f in vendor.CDN_FILES}


@needs_evennia
def test_every_cdn_file_of_the_templates_is_the_pinned_npm_file():
    """The npm files are the bytes the CDNs serve: each integrity hash that
    Evennia's templates give matches the file the override links instead."""
    if vendor.missing_packages() and not vendor.shutil.which("npm"):
        pytest.skip("needs npm to install demo/vendor (make webclient-assets)")
    vendor.ensure_node_modules()
    checked = 0
    for name in vendor.TEMPLATES:
        stock = evennia_template(name)
        for cdn_file in vendor.CDN_FILES:
            match = re.search(re.escape(cdn_file.url) + r'"[^>]*integrity="sha384-([^"]+)"', stock)
            if not match:
                continue
            data = (vendor.NODE_MODULES / cdn_file.alias / cdn_file.path).read_bytes()
            assert base64.b64encode(hashlib.sha384(data).digest()).decode() == match.group(1), (
                cdn_file
            )
            checked += 1
    assert checked >= 8  # jQuery (2), popper (2), Bootstrap (4): all with SRI hashes


def test_a_cdn_link_without_an_npm_copy_is_refused_with_the_fix():
    text = '{% load static %}<script src="https://cdn.example.org/lib-1.0.min.js"></script>'
    with pytest.raises(
        RuntimeError, match=r"cdn\.example\.org/lib-1\.0\.min\.js.*demo/vendor/package\.json"
    ):
        vendor.local_template("website/base.html", text)


def test_cdn_links_inside_html_comments_are_left_alone():
    text = '{% load static %}<!--\n<script src="https://cdn.example.org/off.js"></script>\n-->'
    assert "off.js" in vendor.local_template("website/base.html", text)
