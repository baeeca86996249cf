"""The offline checks: settings only, no network.

They run as Django system checks on every management command (so they
must stay cheap and must never touch S3) and as the first lines of
``s3_check`` and ``@awsstatus /check``.
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from ..s3.conf import REGION_NAME_RE
from .results import FAIL, OK, WARN, CheckResult
from .targets import DJANGO_DEFAULTS, STORAGE_MODULE, SUGGESTED, Target, load_targets

CHECK = "settings"
# AWS's own region names (the rule only applies when no custom endpoint is set:
# S3-compatible stores use names like "auto" or "nyc3").
_AWS_REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_LEGACY = {"STATICFILES_STORAGE": "staticfiles", "DEFAULT_FILE_STORAGE": "default"}
_PROBE_NAME = "s3-check-url-probe.txt"


def _result(status, message, fix="", target="", code=""):
    return CheckResult(CHECK, status, message, fix, target, code)


def settings_checks(require_storage: bool = True) -> list[CheckResult]:
    """All offline results, in order. ``require_storage``: no S3 storage
    configured is a FAIL (for ``s3_check``) rather than a WARN (system
    checks, where the app may be installed before it is used)."""
    targets = load_targets()
    results = _storages_results(targets, require_storage)
    for target in targets:
        if target.ours:
            results.extend(target_settings_checks(target))
    return _merge_same(results)


def _merge_same(results: list[CheckResult]) -> list[CheckResult]:
    """One line for a problem shared by several storages (a global
    ``AWS_*`` setting), its ``target`` listing them: ``"staticfiles, default"``."""
    merged: dict = {}
    for r in results:
        key = (r.status, r.message, r.fix, r.code)
        if key in merged and r.status != OK:
            first = merged[key]
            merged[key] = CheckResult(
                first.check,
                first.status,
                first.message,
                first.fix,
                f"{first.target}, {r.target}",
                first.code,
            )
        else:
            merged.setdefault(key if r.status != OK else (id(r),), r)
    return list(merged.values())


def targets_of(result: CheckResult) -> list[str]:
    """The storage aliases a result is about."""
    return [t for t in result.target.split(", ") if t]


def _storages_results(targets: list[Target], require_storage: bool) -> list[CheckResult]:
    results = []
    for target in targets:
        if target.import_error:
            results.append(
                _result(
                    FAIL,
                    f"STORAGES[{target.alias!r}]['BACKEND'] = {target.backend!r} cannot be "
                    f"imported ({target.import_error}).",
                    f"correct the dotted path, e.g. {SUGGESTED.get(target.alias, SUGGESTED['default'])!r}.",
                    target.alias,
                    "E008",
                )
            )
    ours = [t for t in targets if t.ours]
    for name, alias in _LEGACY.items():
        value = getattr(settings, name, None)
        by_alias = {t.alias: t for t in targets}
        if value and STORAGE_MODULE in str(value) and not by_alias[alias].ours:
            results.append(
                _result(
                    FAIL,
                    f"{name} = {value!r} is ignored by Django 5.1+; STORAGES[{alias!r}] "
                    f"still uses {by_alias[alias].backend!r}.",
                    f"move it: STORAGES[{alias!r}] = {{'BACKEND': {value!r}}} and delete {name}.",
                    alias,
                    "E006",
                )
            )
    if not ours:
        status, code = (FAIL, "E007") if require_storage else (WARN, "W001")
        results.append(
            _result(
                status,
                "no STORAGES alias uses contrib_awsstorage's classes: files are not stored on S3.",
                f"set STORAGES['staticfiles'] = {{'BACKEND': {SUGGESTED['staticfiles']!r}}} "
                f"(and STORAGES['default'] = {{'BACKEND': {SUGGESTED['default']!r}}} for uploads).",
                "",
                code,
            )
        )
        return results
    where = ", ".join(f"{t.alias} -> {t.cls.__name__}" for t in ours)
    plain = [t.alias for t in targets if t.alias in DJANGO_DEFAULTS and not t.ours]
    extra = f"; {', '.join(plain)} {'stays' if len(plain) == 1 else 'stay'} local" if plain else ""
    results.append(_result(OK, f"STORAGES: {where}{extra}."))
    results.extend(_app_order_results(ours))
    return results


def _app_order_results(ours: list[Target]) -> list[CheckResult]:
    """Django runs the ``collectstatic`` of the first app listed: ours must
    come before ``django.contrib.staticfiles`` or every reload runs Django's
    (the storage still answers its no-op from one listing, see
    ``stock_collectstatic``, but uploads are serial)."""
    if not any(t.is_static for t in ours):
        return []
    apps = [str(a) for a in settings.INSTALLED_APPS]
    names = [a.split(".apps.")[0] for a in apps]
    ours_at = next((i for i, a in enumerate(names) if a == "contrib_awsstorage"), None)
    django_at = next((i for i, a in enumerate(names) if a == "django.contrib.staticfiles"), None)
    if ours_at is None or django_at is None or ours_at < django_at:
        return []
    return [
        _result(
            WARN,
            "INSTALLED_APPS lists 'contrib_awsstorage' after 'django.contrib.staticfiles': "
            "Django's collectstatic runs instead of ours. The storage keeps its no-op to one "
            "listing, but changed files go up one at a time, and an S3 error during a start or "
            "reload is not turned into a warning.",
            'put it first: INSTALLED_APPS = ["contrib_awsstorage"] + [a for a in INSTALLED_APPS '
            'if a != "contrib_awsstorage"].',
            "staticfiles",
            "W005",
        )
    ]


def _raw_option(target: Target, attr: str, setting: str):
    if attr in target.options:
        return target.options[attr], f"STORAGES[{target.alias!r}]['OPTIONS'][{attr!r}]"
    return getattr(settings, setting, None), setting


def resolve(target: Target) -> tuple[dict | None, list[CheckResult]]:
    """Resolved option values of ``target`` (None if they do not resolve),
    and the results for the settings that stop them resolving."""
    values, _, results = resolve_with_names(target)
    return values, results


def _setting_name(source: str, attr: str, alias: str) -> str:
    """What the admin edits, from s3conf's source words."""
    if source.startswith("setting "):
        return source[len("setting ") :]
    if source.startswith("STORAGES OPTIONS"):
        return f"STORAGES[{alias!r}]['OPTIONS'][{attr!r}]"
    if source.startswith("class "):
        return f"{source[len('class ') :]}.{attr}"
    if source.startswith("environment variable"):
        return source
    default = {o: s[0] for o, s in _DEFAULT_SETTINGS.items()}
    return default.get(attr, f"STORAGES[{alias!r}]['OPTIONS'][{attr!r}]")


_DEFAULT_SETTINGS = {
    "bucket_name": ("AWS_STORAGE_BUCKET_NAME",),
    "region_name": ("AWS_S3_REGION_NAME",),
    "endpoint_url": ("AWS_S3_ENDPOINT_URL",),
    "custom_domain": ("AWS_S3_CUSTOM_DOMAIN",),
    "signature_version": ("AWS_S3_SIGNATURE_VERSION",),
    "file_name_charset": ("AWS_S3_FILE_NAME_CHARSET",),
    "session_profile": ("AWS_S3_SESSION_PROFILE",),
}


def resolve_with_names(target: Target):
    """(values or None, {attr: the setting name to edit}, results)."""
    from contrib_awsstorage.s3 import conf as s3conf

    results, override = [], {}
    location, source = _raw_option(target, "location", "AWS_LOCATION")
    if isinstance(location, str) and location.startswith("/"):
        results.append(
            _result(
                FAIL,
                f"{source} = {location!r} starts with '/': keys would not match the files.",
                f"set {source} = {location.lstrip('/')!r} (no leading slash).",
                target.alias,
                "E004",
            )
        )
        override["location"] = location.lstrip("/")
    try:
        values, sources = s3conf.resolve_with_sources(target.cls, {**target.options, **override})
    except ImproperlyConfigured as exc:
        from contrib_awsstorage.s3.errors import scrub

        text = scrub(str(exc))
        message, _, fix = text.partition(" Fix: ")
        results.append(
            _result(FAIL, message, fix or "correct the setting named above.", target.alias, "E005")
        )
        return None, {}, results
    names = {attr: _setting_name(src, attr, target.alias) for attr, src in sources.items()}
    return values, names, results


def target_settings_checks(target: Target) -> list[CheckResult]:
    """Offline results for one of our storages."""
    values, names, results = resolve_with_names(target)
    if values is None:
        return results
    alias = target.alias
    results.insert(0, _result(OK, _summary(values), "", alias))
    for check in (
        _bucket_results,
        _region_results,
        _endpoint_results,
        _custom_domain_results,
        _signature_results,
        _charset_results,
        _profile_results,
    ):
        results.extend(check(values, names, alias))
    if target.is_static and not any(r.failed for r in results):
        results.extend(_static_url_results(values, alias))
    return results


def _bucket_results(values: dict, names: dict, alias: str) -> list[CheckResult]:
    from contrib_awsstorage.s3 import conf as s3conf

    bucket, name = values.get("bucket_name"), names["bucket_name"]
    if not bucket:
        return [
            _result(
                FAIL,
                f"{name} is not set: no bucket to store files in.",
                f"set AWS_STORAGE_BUCKET_NAME = 'your-bucket' (or STORAGES[{alias!r}]['OPTIONS']"
                "['bucket_name']).",
                alias,
                "E001",
            )
        ]
    problems = s3conf.validate_bucket_name(bucket)
    if not problems:
        return []
    return [
        _result(
            FAIL,
            f"{name}: " + " ".join(problems),
            f"rename the bucket in {name}: 3-63 characters, lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit.",
            alias,
            "E002",
        )
    ]


def _summary(values: dict) -> str:
    parts = [f"bucket {values.get('bucket_name')!r}"]
    parts.append(f"region {values.get('region_name') or 'from the environment'}")
    location = values.get("location")
    parts.append(f"location {location!r}" if location else "at the bucket root")
    if values.get("endpoint_url"):
        parts.append(f"endpoint {values['endpoint_url']}")
    if values.get("custom_domain"):
        parts.append(f"custom domain {values['custom_domain']}")
    return ", ".join(parts) + "."


def _region_results(values: dict, names: dict, alias: str) -> list[CheckResult]:
    region, name = values.get("region_name"), names["region_name"]
    on_aws = not values.get("endpoint_url")
    if not region:
        env = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        if on_aws and not env:
            return [
                _result(
                    WARN,
                    "AWS_S3_REGION_NAME is not set (nor AWS_DEFAULT_REGION): boto3 falls back "
                    "to us-east-1 and URLs of buckets elsewhere get redirected or rejected.",
                    "set AWS_S3_REGION_NAME to the bucket's region, e.g. 'eu-west-1'.",
                    alias,
                    "W003",
                )
            ]
        return []
    pattern = _AWS_REGION_RE if on_aws else REGION_NAME_RE
    if not isinstance(region, str) or not pattern.match(region):
        example = "'eu-west-1'" if on_aws else "the region your S3-compatible store documents"
        return [
            _result(
                FAIL,
                f"{name} = {region!r} is not a valid region name.",
                f"set {name} to {example}.",
                alias,
                "E003",
            )
        ]
    return []


def _endpoint_results(values: dict, names: dict, alias: str) -> list[CheckResult]:
    endpoint, name = values.get("endpoint_url"), names["endpoint_url"]
    if not endpoint:
        return []
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return [
            _result(
                FAIL,
                f"{name} = {endpoint!r} is not an http(s) URL.",
                f"set {name} = 'https://host[:port]' (or None for AWS).",
                alias,
                "E009",
            )
        ]
    return []


def _custom_domain_results(values: dict, names: dict, alias: str) -> list[CheckResult]:
    domain, name = values.get("custom_domain"), names["custom_domain"]
    if not domain or re.match(r"^[A-Za-z0-9.-]+(:\d+)?$", domain):
        return []
    host = urlsplit(domain if "//" in domain else f"//{domain}").netloc or domain
    return [
        _result(
            FAIL,
            f"{name} = {domain!r} is not a bare host name: URLs would come out wrong.",
            f"set {name} = {host!r} (no scheme, no path; a key prefix goes in AWS_LOCATION, "
            "the scheme in AWS_S3_URL_PROTOCOL).",
            alias,
            "E011",
        )
    ]


_SIGNATURE_VERSIONS = ("s3v4", "s3")


def _signature_results(values: dict, names: dict, alias: str) -> list[CheckResult]:
    version, name = values.get("signature_version"), names["signature_version"]
    if version is None or version in _SIGNATURE_VERSIONS:
        return []
    return [
        _result(
            FAIL,
            f"{name} = {version!r} is not an S3 signature version.",
            f"set {name} = 's3v4' (or leave it None).",
            alias,
            "E012",
        )
    ]


def _charset_results(values: dict, names: dict, alias: str) -> list[CheckResult]:
    import codecs

    charset, name = values.get("file_name_charset"), names["file_name_charset"]
    try:
        codecs.lookup(charset)
    except LookupError:
        return [
            _result(
                FAIL,
                f"{name} = {charset!r} is not a known charset.",
                f"set {name} = 'utf-8'.",
                alias,
                "E010",
            )
        ]
    return []


def _profile_results(values: dict, names: dict, alias: str) -> list[CheckResult]:
    """The named profile must exist in the local AWS config files (no network)."""
    profile, name = values.get("session_profile"), names["session_profile"]
    if not profile:
        return []
    import botocore.session

    available = botocore.session.Session().available_profiles
    if profile in available:
        return []
    known = ", ".join(repr(p) for p in available) or "none"
    return [
        _result(
            FAIL,
            f"{name} = {profile!r}: no such profile in the AWS config/credentials files "
            f"(known: {known}).",
            f"create the profile (aws configure --profile {profile}) or correct {name}.",
            alias,
            "E013",
        )
    ]


def storage_url_base(values: dict) -> str | None:
    """Where the storage's URLs for public files start (e.g.
    ``https://bucket.s3.amazonaws.com/static/``); pure string work."""
    from contrib_awsstorage.aws_s3_cdn import S3Boto3Storage

    # The base class: a manifest subclass would read its manifest from S3 here.
    storage = S3Boto3Storage(**values)
    url = storage.url(_PROBE_NAME)
    url = url.split("?", 1)[0]
    return url[: -len(_PROBE_NAME)] if url.endswith(_PROBE_NAME) else None


def _comparable(url: str) -> str:
    url = re.sub(r"^(https?:)?//", "", url.strip())
    return url.rstrip("/")


def _static_url_results(values: dict, alias: str) -> list[CheckResult]:
    if values.get("querystring_auth") and not values.get("custom_domain"):
        return [
            _result(
                WARN,
                "static files get signed, expiring URLs (querystring_auth is True): browsers "
                "and CDNs cannot cache them and cached pages break after expiry.",
                "use S3StaticStorage / S3ManifestStaticStorage for STORAGES['staticfiles'] "
                "(or OPTIONS {'querystring_auth': False}) with a public-read bucket policy "
                "('evennia s3_setup --apply' writes it).",
                alias,
                "W004",
            )
        ]
    try:
        base = storage_url_base(values)
    except Exception as exc:  # url() of a misconfigured storage: reported elsewhere
        from contrib_awsstorage.s3.errors import scrub

        return [
            _result(
                WARN,
                f"could not compute the storage URL ({scrub(exc)}).",
                "run 'evennia s3_check' for details.",
                alias,
                "W002",
            )
        ]
    static_url = getattr(settings, "STATIC_URL", None) or ""
    if base is None or _comparable(str(static_url)) == _comparable(base):
        return []
    return [
        _result(
            WARN,
            f"STATIC_URL = {static_url!r} but the storage serves static files from {base!r}: "
            "anything that builds URLs from STATIC_URL instead of {% static %} points elsewhere.",
            f"set STATIC_URL = {base!r}.",
            alias,
            "W002",
        )
    ]
