import { describe, expect, it } from "vitest";
import { DIFF_KIND, detailedDiff, mapKeyPath } from "../../src/pulumi/detailed-diff";
import { setElements } from "../../src/pulumi/line-map";

const rules = (...lines: string[]) =>
  Object.fromEntries(lines.map((l, i) => [l, i === 0 ? "(first)" : `after: ${lines[i - 1]}`]));

describe("the HostTable's detailed diff (one entry per changed line)", () => {
  it("a set is one path: the same elements are no change, one element gone and one new are one update", () => {
    const olds = { rules: { "set a_v4": setElements(["198.18.0.1/32", "198.18.0.5/32", "198.18.0.9/32"]) } };
    const same = { rules: { "set a_v4": setElements(["198.18.0.9/32", "198.18.0.5/32", "198.18.0.1/32"]) } };
    const news = { rules: { "set a_v4": setElements(["198.18.0.1/32", "198.18.0.9/32", "198.18.0.13/32"]) } };
    expect(detailedDiff(olds, same, { sysctl: {}, modprobe: {} }, [])).toEqual({});
    expect(detailedDiff(olds, news, { sysctl: {}, modprobe: {} }, [])).toEqual({
      [mapKeyPath("rules", "set a_v4")]: { kind: DIFF_KIND.update, inputDiff: true },
    });
  });

  it("names each added, removed and moved rule line by its own path, quotes escaped as the engine parses them", () => {
    const olds = {
      rules: rules(
        "chain input: policy drop",
        'chain input: tcp dport 22 accept comment "ssh"',
        'chain input: tcp dport 443 accept comment "https"',
      ),
    };
    const news = {
      rules: rules(
        "chain input: policy drop",
        'chain input: tcp dport 80 accept comment "http"',
        'chain input: tcp dport 22 accept comment "ssh"',
      ),
    };
    const d = detailedDiff(olds, news, { sysctl: {}, modprobe: {} }, []);
    expect(d).toEqual({
      [mapKeyPath("rules", 'chain input: tcp dport 80 accept comment "http"')]: {
        kind: DIFF_KIND.add,
        inputDiff: true,
      },
      [mapKeyPath("rules", 'chain input: tcp dport 22 accept comment "ssh"')]: {
        kind: DIFF_KIND.update,
        inputDiff: true,
      },
      [mapKeyPath("rules", 'chain input: tcp dport 443 accept comment "https"')]: {
        kind: DIFF_KIND.delete,
        inputDiff: true,
      },
    });
    expect(mapKeyPath("rules", 'tcp dport 22 accept comment "ssh"')).toBe(
      'rules["tcp dport 22 accept comment \\"ssh\\""]',
    );
  });

  it("is empty when nothing the host gets changes (a no-op up), and compares the files rendered for the host", () => {
    const same = {
      rules: rules("chain input: policy drop"),
      connection: { host: "198.18.0.1", port: 22 },
      hostPaths: undefined,
    };
    const files = { sysctl: rules("# a"), modprobe: rules("install nf_conntrack_ftp /bin/false") };
    expect(detailedDiff({ ...same, ...files }, { ...same, sysctl: {}, modprobe: {} }, files, [])).toEqual({});
    const moreFiles = {
      ...files,
      modprobe: rules("install nf_conntrack_ftp /bin/false", "install nf_conntrack_sip /bin/false"),
    };
    expect(Object.keys(detailedDiff({ ...same, ...files }, same, moreFiles, []))).toEqual([
      mapKeyPath("modprobe", "install nf_conntrack_sip /bin/false"),
    ]);
  });

  it("marks the properties that force a replacement, and a changed connection as an update", () => {
    const olds = { connection: { host: "198.18.0.1" }, target: "root@198.18.0.1:22", table: "a" };
    const d = detailedDiff(
      olds,
      { connection: { host: "198.18.0.2" }, target: "root@198.18.0.2:22", table: "a" },
      { sysctl: {}, modprobe: {} },
      ["connection", "target"],
    );
    expect(d).toEqual({
      connection: { kind: DIFF_KIND.updateReplace, inputDiff: true },
      target: { kind: DIFF_KIND.updateReplace, inputDiff: true },
    });
    const keyOnly = detailedDiff(
      olds,
      { ...olds, connection: { host: "198.18.0.1", privateKey: "x" } },
      { sysctl: {}, modprobe: {} },
      [],
    );
    expect(keyOnly).toEqual({ connection: { kind: DIFF_KIND.update, inputDiff: true } });
  });
});
