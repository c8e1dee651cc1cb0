/**
 * Lock-out or lost contact (issue #17): what the applying session answered while the proof of
 * access was pending, and the guardian's record of an apply no controller read. Pure parts; the
 * engine suite (test/engine/interrupt.test.ts) cuts a real link.
 */
import { describe, expect, it } from "vitest";
import { LOST_CONTACT_SILENCE_MS, lostContact, watchContact } from "../../src/host/operations/contact";
import { describeLastTransaction, parseLastTransaction } from "../../src/host/wire/last-transaction";
import { parseOutput } from "../../src/host/wire/remote";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("watchContact", () => {
  it("a session that keeps answering: short silences, not lost contact", async () => {
    const watch = watchContact({ answers: async () => true }, { everyMs: 10, silenceMs: 200 });
    await sleep(120);
    const seen = watch.stop();
    expect(seen.answered).toBeGreaterThan(3);
    expect(seen.longestSilenceMs).toBeLessThan(200);
    expect(lostContact(seen, 200)).toBe(false);
  });

  it("a session that stops answering: the silence runs until the watch stops, and it is lost contact", async () => {
    let up = true;
    const watch = watchContact(
      {
        answers: async (timeoutMs) => {
          if (up) return true;
          await sleep(timeoutMs);
          return false;
        },
      },
      { everyMs: 10, silenceMs: 100 },
    );
    await sleep(50);
    up = false;
    await sleep(250);
    const seen = watch.stop();
    expect(seen.answered).toBeGreaterThan(0);
    expect(seen.longestSilenceMs).toBeGreaterThanOrEqual(200);
    expect(lostContact(seen, 100)).toBe(true);
  });

  it("a silence that ended (a blip) counts by its length", async () => {
    let t = 0;
    const answers = [true, false, false, true, true];
    let i = 0;
    const watch = watchContact(
      {
        answers: async () => {
          t += 1_000;
          return answers[i++] ?? true;
        },
      },
      { everyMs: 0, now: () => t },
    );
    await sleep(20);
    const seen = watch.stop();
    expect(seen.longestSilenceMs).toBe(3_000);
    expect(LOST_CONTACT_SILENCE_MS).toBe(5_000);
    expect(lostContact(seen)).toBe(false); // 3 s without an answer, inside a window: a blip
  });
});

describe("the record of an apply no controller read", () => {
  const out = parseOutput(
    0,
    [
      "hnft-last-transaction started 1765000000",
      "hnft-last-transaction result rolled-back",
      "hnft-last-transaction record loading the backup failed: x",
      "hnft-status armed",
    ].join("\n"),
    "",
  );

  it("is read from a step's output apart from its verdict", () => {
    expect(out.status).toBe("armed");
    expect(out.values).toEqual({});
    const last = parseLastTransaction(out.lastTransaction)!;
    expect(last.verdict.word).toBe("rolled-back");
    expect(last.startedAt?.toISOString()).toBe("2025-12-06T05:46:40.000Z");
    expect(last.record).toEqual(["loading the backup failed: x"]);
  });

  it("says which apply, that no controller saw its end, what the host runs since and why", () => {
    const text = describeLastTransaction(parseLastTransaction(out.lastTransaction)!, {
      table: "web",
      nftPath: "/etc/hardened-nftables/web.nft",
      confirmTimeout: 30,
    });
    expect(text).toContain(
      "an earlier apply of table inet web on this host (started 2025-12-06T05:46:40.000Z) ended without its controller",
    );
    expect(text).toContain("no proof of access arrived in time, so the host restored its previous state by itself");
    expect(text).toContain("The host's record: loading the backup failed: x.");
    const committed = describeLastTransaction(
      parseLastTransaction(["hnft-last-transaction result committed flushed=0"])!,
      { table: "web", nftPath: "/x", confirmTimeout: 30 },
    );
    expect(committed).toContain("the host committed it");
  });

  it("none when the host printed no record (a section read as text too)", () => {
    expect(parseLastTransaction([])).toBeUndefined();
    expect(parseLastTransaction(["started 5", "result committed flushed=0"])?.verdict.word).toBe("committed");
  });
});
