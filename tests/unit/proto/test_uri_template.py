"""Resource URI templates: the supported RFC 6570 subset, matched against concrete URIs."""

from __future__ import annotations

import pytest

from proto.uri_template import UriTemplate, UriTemplateError


@pytest.mark.parametrize(
    ("template", "uri", "values"),
    [
        ("test://template/{id}/data", "test://template/42/data", {"id": "42"}),
        ("test://template/{id}/data", "test://template/a%2Fb/data", {"id": "a/b"}),
        ("users://{name}", "users://Z%C3%BCrich", {"name": "Zürich"}),
        ("file:///{+path}", "file:///etc/app/config.toml", {"path": "etc/app/config.toml"}),
        ("repo://{owner}/{repo}", "repo://a/b", {"owner": "a", "repo": "b"}),
        ("w://{city}/now{?units,lang}", "w://oslo/now", {"city": "oslo"}),
        ("w://{city}/now{?units,lang}", "w://oslo/now?units=si", {"city": "oslo", "units": "si"}),
        (
            "w://{city}/now{?units,lang}",
            "w://oslo/now?lang=nb&units=si",
            {"city": "oslo", "units": "si", "lang": "nb"},
        ),
        ("w://{city}/now{?units}", "w://oslo/now?units=", {"city": "oslo", "units": ""}),
        ("static://readme", "static://readme", {}),
        ("a.b://{x}", "a.b://1", {"x": "1"}),  # literal dots are not wildcards
    ],
)
def test_instances_match_with_decoded_values(
    template: str, uri: str, values: dict[str, str]
) -> None:
    assert UriTemplate(template).match(uri) == values


@pytest.mark.parametrize(
    ("template", "uri"),
    [
        ("test://template/{id}/data", "test://template//data"),  # empty value
        ("test://template/{id}/data", "test://template/a/b/data"),  # / needs {+id}
        ("test://template/{id}/data", "test://template/42/data/more"),
        ("users://{name}", "users://a b"),
        ("users://{name}", "users://a?b"),
        ("w://{city}/now{?units}", "w://oslo/now?other=1"),  # unknown query key
        ("w://{city}/now{?units}", "w://oslo/now?units=a&units=b"),  # repeated
        ("w://{city}/now{?units}", "w://oslo/now#frag"),
        ("static://readme", "static://readme2"),
        ("axb://{x}", "a.b://1"),
    ],
)
def test_non_instances_do_not_match(template: str, uri: str) -> None:
    assert UriTemplate(template).match(uri) is None


def test_a_plain_uri_is_not_a_template() -> None:
    assert not UriTemplate("config://app").is_template
    assert UriTemplate("w://{a}").is_template
    assert UriTemplate("w://x{?a}").is_template
    assert UriTemplate("w://{a}/{+b}{?c,d}").variables == ("a", "b")
    assert UriTemplate("w://{a}/{+b}{?c,d}").query_names == ("c", "d")


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("w://{a", "unbalanced"),
        ("w://a}", "unbalanced"),
        ("w://{a}}{", "malformed"),
        ("w://{a,b}", "one variable per expression"),
        ("w://{#frag}", "not supported"),
        ("w://{/seg}", "not supported"),
        ("w://{.ext}", "not supported"),
        ("w://{a:3}", "plain variable name"),
        ("w://{a*}", "plain variable name"),
        ("w://{}", "plain variable name"),
        ("w://{a}/{a}", "appears twice"),
        ("w://{a}{?a}", "appears twice"),
        ("w://{?q}/{a}", "must come last"),
        ("w://{_query}", "appears twice"),
    ],
)
def test_unsupported_templates_are_refused_with_a_reason(template: str, reason: str) -> None:
    with pytest.raises(UriTemplateError, match=reason):
        UriTemplate(template)
