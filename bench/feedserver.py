"""Generated RSS feeds served on loopback, shared by the crawl benchmarks (bench_crawl_1000, bench_peer_crawl).

Every feed is small Vietnamese RSS with distinct items (`feed`); `route_feeds` puts a host's feeds on a
`tests.servers.TestServer` with an ETag per feed, so a client that sends If-None-Match gets a 304, and
with a fixed latency per response. Not named bench_*.py: bench/run.py runs those, this is a helper.
"""

from __future__ import annotations

import random

from tests.servers import TestServer

TOPICS = ["bão lũ miền Trung", "giá xăng dầu", "tuyển sinh đại học", "dịch sốt xuất huyết", "giao thông Hà Nội",
          "chuyển đổi số Thanh Hóa", "nông sản Nghệ An", "thời tiết nắng nóng", "an toàn thực phẩm", "lừa đảo qua mạng"]
# Words for `varied` items: each item's body is its own draw of them, so no two items are near-duplicates.
WORDS = ("người dân tỉnh huyện xã thành phố trường học bệnh viện cán bộ chính quyền công an giáo viên học sinh"
         " nông dân doanh nghiệp công nhân cửa hàng chợ đường sông cầu nhà máy khu công nghiệp cánh đồng lúa"
         " cà phê hồ tiêu thanh long sầu riêng mưa gió nắng lạnh sáng chiều tối hôm qua tuần trước năm nay"
         " tháng này kế hoạch dự án ngân sách hội nghị cuộc họp báo cáo kết quả số liệu thống kê tăng giảm"
         " ổn định phát triển hỗ trợ kiểm tra xử lý vi phạm phạt tiền cảnh báo hướng dẫn thông báo quyết định"
         " triển khai hoàn thành khởi công bàn giao tiếp nhận phản ánh kiến nghị giải quyết điều tra bắt giữ"
         " tuyên truyền vận động tham gia đóng góp ủng hộ quyên góp cứu trợ sơ tán di dời khắc phục thiệt hại"
         " sạt lở ngập úng hạn hán xâm nhập mặn cháy rừng tai nạn giao thông ùn tắc xe máy ô tô xe buýt tàu"
         " điện than xăng giá cả lạm phát lãi suất ngân hàng tín dụng bảo hiểm thuế phí đất đai quy hoạch").split()


def feed(host: int, number: int, first: int = 0, items: int = 5, *, varied: bool = False) -> bytes:
    """Feed `number` of host `host`: `items` items starting at item `first` (a later version adds items on top).

    The default items are one sentence each from a shared template, so near-duplicate clustering finds
    every item similar to hundreds of others (a worst case, kept so earlier figures stay comparable).
    `varied` items add 40 words of their own (a seeded draw from WORDS): distinct stories, as most items
    of a thousand different feeds are.
    """
    entries = []
    for i in range(first, first + items):
        topic = TOPICS[(host + number + i) % len(TOPICS)]
        body = (f"Bài số {i} của chuyên mục {number} trên báo {host} nói về {topic}; "
                f"mã bài {host * 1000 + number * 10 + i} để nội dung của mỗi bài là khác nhau.")
        if varied:
            draw = random.Random(f"{host}-{number}-{i}")
            body += " " + " ".join(draw.choice(WORDS) for _ in range(40)) + "."
        entries.append(
            f"<item><title>Tin {host}-{number}-{i}: {topic}</title>"
            f"<link>https://bao{host}.example.vn/tin/{number}/{i}.html</link>"
            f"<guid>https://bao{host}.example.vn/tin/{number}/{i}.html</guid>"
            f"<pubDate>Mon, 23 Nov 2026 {i % 24:02d}:00:00 +0700</pubDate>"
            f"<description>{body}</description></item>")
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Báo {host}</title>'
            + "".join(entries) + "</channel></rss>").encode("utf-8")


def feed_path(number: int) -> str:
    return f"/rss/{number}.rss"


def route_feeds(server: TestServer, host: int, count: int, *, items: int = 5, latency: float = 0.2,
                first: int = 0, version: str = "", varied: bool = False) -> list[str]:
    """Serve feeds 0..count-1 of `host` on `server` (replacing earlier versions); returns their URLs.

    The ETag names the host, the feed and `version`, so a new version is a changed feed to a client
    that sends the old ETag.
    """
    return [server.route(feed_path(number), feed(host, number, first=first, items=items, varied=varied),
                         content_type="application/rss+xml", etag=f'"{host}-{number}{version}"', delay=latency)
            for number in range(count)]
