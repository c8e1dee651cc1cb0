/**
 * While the proof of access is pending, whether the host still answers on the session that
 * applied the change. A new connection that fails while this session answers is the ruleset's
 * doing (a lock-out); a new connection that fails while this session is silent too says nothing
 * about the ruleset: the host could not be reached at all (lost contact, a partition, the host's
 * link down), and the guardian rolls back for want of a proof that could not travel.
 */

/** A stretch this long without an answer on the applying session is lost contact, not a lock-out. */
export const LOST_CONTACT_SILENCE_MS = 5_000;
const PING_EVERY_MS = 1_000;

export interface Pingable {
  /** true when the host answered within `timeoutMs` (HostSession.answers) */
  answers(timeoutMs: number): Promise<boolean>;
}

export interface ContactSeen {
  /** answers the session gave while the proof was pending */
  readonly answered: number;
  /** the longest stretch without an answer, in ms (up to the moment the watch stopped) */
  readonly longestSilenceMs: number;
}

export interface ContactWatch {
  /** Stops pinging; what was seen until now. */
  stop(): ContactSeen;
}

export function watchContact(
  session: Pingable,
  opts: { everyMs?: number; silenceMs?: number; now?: () => number } = {},
): ContactWatch {
  const every = opts.everyMs ?? PING_EVERY_MS;
  const silence = opts.silenceMs ?? LOST_CONTACT_SILENCE_MS;
  const now = opts.now ?? (() => performance.now());
  let lastAnswer = now();
  let longest = 0;
  let answered = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    while (!stopped) {
      const started = now();
      const ok = await session.answers(silence);
      if (stopped) break;
      if (ok) {
        answered++;
        longest = Math.max(longest, now() - lastAnswer);
        lastAnswer = now();
      }
      const wait = Math.max(0, every - (now() - started));
      await new Promise<void>((resolve) => {
        timer = setTimeout(resolve, wait);
      });
    }
  };
  void loop();
  return {
    stop() {
      if (!stopped) {
        stopped = true;
        if (timer) clearTimeout(timer);
        longest = Math.max(longest, now() - lastAnswer);
      }
      return { answered, longestSilenceMs: longest };
    },
  };
}

/** Lost contact: the applying session went silent for at least `silenceMs` while the proof was pending. */
export function lostContact(seen: ContactSeen, silenceMs = LOST_CONTACT_SILENCE_MS): boolean {
  return seen.longestSilenceMs >= silenceMs;
}
