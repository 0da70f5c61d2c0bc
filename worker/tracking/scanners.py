"""Is a click a person's? Pure functions that give a click its verdict: None when it counts
as interest, else a short string that says why not (kept on the ``Click`` row and its event).

Mail security gateways open every link of an incoming email to check it, often from data
centres and seconds after delivery; chat apps and link checkers fetch a preview. Four signs,
cheapest first:

- ``head``: a HEAD request reads headers only; browsers follow links with GET;
- ``scanner:<name>``: the user agent of a known scanner, preview fetcher or HTTP library
  (``SCANNER_AGENTS``), or no user agent at all (``scanner:no-user-agent``);
- ``too_soon``: within ``min_delay_s`` of the email's sending (nobody reads that fast);
- ``every_link``: every link of the email clicked within ``burst_s``: a scanner opening them
  all. The clicks of that burst counted before are re-marked (``worker.tracking.clicks``).

A later click of the same link that passes these checks counts: a person came back.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

HEAD = "head"
TOO_SOON = "too_soon"
EVERY_LINK = "every_link"
NO_USER_AGENT = "scanner:no-user-agent"

# (a lower-case fragment of the User-Agent header, the name the verdict gives). Sources:
# vendors' documentation and user agents seen in the access logs of tracking redirects.
SCANNER_AGENTS: tuple[tuple[str, str], ...] = (
    # Microsoft Defender for Office 365 Safe Links and Exchange Online Protection fetch with
    # agents naming "Microsoft Office" protocol discovery or "Safe Links" (learn.microsoft.com
    # /defender-office-365/safe-links-about), and through "BingPreview" before 2023.
    ("safelinks", "microsoft-safelinks"),
    ("safe links", "microsoft-safelinks"),
    ("microsoft office existence discovery", "microsoft-office-discovery"),
    ("ms-office", "microsoft-office-discovery"),
    ("bingpreview", "bing-preview"),
    ("microsoftpreview", "microsoft-preview"),
    # Barracuda Email Security Gateway / Link Protection (barracuda.com/support).
    ("barracuda", "barracuda"),
    # Proofpoint URL Defense (urldefense.com) and Proofpoint TAP sandboxes.
    ("proofpoint", "proofpoint"),
    ("urldefense", "proofpoint"),
    # Mimecast URL Protect (mimecast.com/support, "Targeted Threat Protection").
    ("mimecast", "mimecast"),
    # Cisco Secure Email (IronPort), Trend Micro, Sophos, Symantec/Broadcom, FireEye/Trellix,
    # Forcepoint, Fortinet: gateway scanners that name themselves.
    ("ironport", "cisco-ironport"),
    ("trendmicro", "trend-micro"),
    ("sophos", "sophos"),
    ("symantec", "symantec"),
    ("messagelabs", "symantec"),
    ("fireeye", "fireeye"),
    ("trellix", "trellix"),
    ("forcepoint", "forcepoint"),
    ("fortiguard", "fortinet"),
    # Link previews: Google (developers.google.com/search/docs/crawling-indexing/google-
    # special-case-crawlers: "Google-Read-Aloud", "GoogleImageProxy" for Gmail images),
    # Slack (api.slack.com/robots: "Slackbot-LinkExpanding"), Microsoft Teams ("SkypeUriPreview"),
    # Facebook/WhatsApp, Twitter, LinkedIn, Discord, Telegram, Apple iMessage previews.
    ("googleimageproxy", "gmail-image-proxy"),
    ("google-read-aloud", "google-preview"),
    ("google-safety", "google-safe-browsing"),
    ("googlebot", "googlebot"),
    ("slackbot", "slackbot"),
    ("skypeuripreview", "teams-preview"),
    ("facebookexternalhit", "facebook-preview"),
    ("whatsapp", "whatsapp-preview"),
    ("twitterbot", "twitter-preview"),
    ("linkedinbot", "linkedin-preview"),
    ("discordbot", "discord-preview"),
    ("telegrambot", "telegram-preview"),
    ("applebot", "apple-preview"),
    # Command-line tools and HTTP libraries: no person clicks with these.
    ("curl/", "curl"),
    ("wget/", "wget"),
    ("python-requests", "python-requests"),
    ("python-urllib", "python-urllib"),
    ("python-httpx", "python-httpx"),
    ("aiohttp", "aiohttp"),
    ("go-http-client", "go-http-client"),
    ("java/", "java"),
    ("okhttp", "okhttp"),
    ("libwww-perl", "libwww-perl"),
    ("httpclient", "http-client"),
    # Headless browsers that sandboxes drive (Chrome says so in its user agent).
    ("headlesschrome", "headless-chrome"),
    ("phantomjs", "phantomjs"),
    # Generic words of crawlers and checkers.
    ("bot/", "bot"),
    ("crawler", "crawler"),
    ("spider", "crawler"),
    ("scanner", "scanner"),
    ("linkcheck", "link-checker"),
    ("link-check", "link-checker"),
)


def scanner_agent(user_agent: str | None) -> str | None:
    """``scanner:<name>`` for a scanner's or tool's user agent (or none at all), else None."""
    agent = (user_agent or "").strip().lower()
    if not agent:
        return NO_USER_AGENT
    for fragment, name in SCANNER_AGENTS:
        if fragment in agent:
            return f"scanner:{name}"
    return None


def click_verdict(
    *,
    method: str,
    user_agent: str | None,
    at: datetime,
    sent_at: datetime | None,
    min_delay_s: float,
) -> str | None:
    """Why one click is not counted (``head``, ``scanner:<name>``, ``too_soon``), or None.
    The burst of every link is decided with the touch's other clicks: ``is_every_link``."""
    if method.upper() == "HEAD":
        return HEAD
    agent = scanner_agent(user_agent)
    if agent is not None:
        return agent
    if sent_at is not None and (at - sent_at).total_seconds() < min_delay_s:
        return TOO_SOON
    return None


def is_every_link(links: int, clicked: Iterable[int]) -> bool:
    """True when ``clicked`` (the links clicked in one burst) covers each of the email's
    ``links``, and there are at least two: one link clicked once is what a person does."""
    return links >= 2 and set(range(links)) <= set(clicked)


__all__ = [
    "EVERY_LINK",
    "HEAD",
    "NO_USER_AGENT",
    "SCANNER_AGENTS",
    "TOO_SOON",
    "click_verdict",
    "is_every_link",
    "scanner_agent",
]
