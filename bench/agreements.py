"""Benchmark: render and seal a two-page mediation agreement (WeasyPrint with the embedded
Noto Sans SC, then a PAdES signature with pyHanko), p50/p95 per agreement; and pages per
second over a batch. Standalone: a temporary data directory and the development key.

    .venv/bin/python bench/agreements.py --runs 30 --batch 100 --out bench/agreements.json
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import write_result

from server.agreements import fonts, pdf, pki, templates
from server.agreements.documents import RenderInput, Seal, sample_context
from server.settings import Settings


def two_page_data() -> dict[str, Any]:
    """The sample document with enough clauses to fill two A4 pages."""
    ctx = sample_context()
    data: dict[str, Any] = {
        "court": ctx["court"],
        "case": ctx["case"],
        "parties": ctx["parties"],
        "terms": {
            "obligations": [
                {"obligor_party_id": 2, "obligee_party_id": 1, "action": "pay",
                 "description": f"第{i + 1}期借款", "amount_fen": 1_000_000 + i * 12_345,
                 "due_date": f"2027-{i % 12 + 1:02d}-28", "method": "bank_transfer"}
                for i in range(8)
            ],
            "clauses": [
                "如被申请人未按期足额支付任何一期款项，申请人有权就全部未付款项一次性申请强制执行，"
                "并按全国银行间同业拆借中心公布的贷款市场报价利率计付逾期利息。"
            ] * 2,
        },
    }  # fmt: skip
    return data


async def one(
    settings: Settings, key: pki.CourtKey, body: str, data: dict[str, Any]
) -> tuple[float, int]:
    code = "BENCH" + str(time.perf_counter_ns())[-7:]
    url = f"{settings.public_url}/verify/{code}"
    inp = RenderInput(data, "0" * 64, 1)
    inp.seal = Seal(code, pdf.qr_data_uri(url), url, "开发用证书")
    inp.development = True
    start, cpu = time.perf_counter(), time.process_time()
    html = pdf.render_html(body, inp)
    raw = pdf.render_pdf(html, settings.data_dir / "fonts")
    signed = await pki.sign_pdf(raw, key, reason="调解协议书", location=settings.court_name)
    return time.perf_counter() - start, time.process_time() - cpu, pdf.page_count(signed)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed agreements for p50/p95")
    parser.add_argument("--batch", type=int, default=100, help="agreements in the batch")
    parser.add_argument("--out", type=Path, help="write the JSON here too")
    parser.add_argument("--font-cache", type=Path, help="reuse prepared fonts from this dir")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp))  # type: ignore[call-arg]
        settings.ensure_dirs()
        t0 = time.perf_counter()
        fonts.prepare(args.font_cache or settings.data_dir / "fonts")
        if args.font_cache:
            import shutil

            shutil.copytree(args.font_cache, settings.data_dir / "fonts", dirs_exist_ok=True)
        font_prep = time.perf_counter() - t0
        key = pki.court_key(settings)
        body = templates.builtin_body("agreement")
        data = two_page_data()
        await one(settings, key, body, data)  # warm-up: font loading, first layout
        load_before = os.getloadavg()
        times: list[float] = []
        cpu: list[float] = []
        pages = 0
        for _ in range(args.runs):
            elapsed, used, pages = await one(settings, key, body, data)
            times.append(elapsed)
            cpu.append(used)
        batch_start, batch_cpu0 = time.perf_counter(), time.process_time()
        batch_pages = 0
        for _ in range(args.batch):
            _, _, n = await one(settings, key, body, data)
            batch_pages += n
        batch_time = time.perf_counter() - batch_start
        batch_cpu = time.process_time() - batch_cpu0
        load_after = os.getloadavg()
    result = {
        "benchmark": "agreements",
        "date": date.today().isoformat(),
        "machine": {"python": platform.python_version(), "cpu": platform.processor()},
        "pages_per_agreement": pages,
        "runs": args.runs,
        "render_and_sign_seconds": {
            "p50": round(statistics.median(times), 4),
            "p95": round(pct(times, 0.95), 4),
            "max": round(max(times), 4),
        },
        # CPU time of this process: what the work costs, whatever else the machine runs.
        "render_and_sign_cpu_seconds": {
            "p50": round(statistics.median(cpu), 4),
            "p95": round(pct(cpu, 0.95), 4),
        },
        "load_average_before_after": [round(load_before[0], 1), round(load_after[0], 1)],
        "batch": {
            "agreements": args.batch,
            "pages": batch_pages,
            "seconds": round(batch_time, 2),
            "pages_per_second": round(batch_pages / batch_time, 2),
            "pages_per_cpu_second": round(batch_pages / batch_cpu, 2),
        },
        "font_prepare_seconds_first_run": round(font_prep, 2),
        "target_p95_seconds": 1.0,
    }
    write_result(result, args.out)


if __name__ == "__main__":
    asyncio.run(main())
