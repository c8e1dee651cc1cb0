/**
 * @pulumi/pulumi 3.276's provider server (provider.main) sends only changes, replaces and
 * deleteBeforeReplace of a DiffResult: never DiffResponse.detailedDiff, so the engine diffs the
 * inputs itself. This registers the provider service with a Diff handler of its own that sends
 * the same fields plus the provider's detailed diff (detailed-diff.ts): the engine then prints
 * exactly the rule and file lines that change. It also passes the old inputs (the SDK's handler
 * passes only the old outputs): the rule lines are stored there alone. Every other handler is the SDK's own.
 */

import type { HostTableDiff } from "./provider-impl";
import { sdkRequire } from "./sdk-modules";

type Diff = (id: string, urn: string, olds: unknown, news: unknown, oldInputs?: unknown) => Promise<HostTableDiff>;
interface Struct {
  toJavaScript(): unknown;
}
interface DiffRequest {
  getId(): string;
  getUrn(): string;
  getOlds(): Struct;
  getNews(): Struct;
  getOldInputs(): Struct | undefined;
}
type Callback = (err: unknown, resp?: unknown) => void;

async function diffResponse(diff: Diff, request: DiffRequest): Promise<unknown> {
  const messages = sdkRequire("@pulumi/pulumi/proto/provider_pb");
  const result = await diff(
    request.getId(),
    request.getUrn(),
    request.getOlds().toJavaScript(),
    request.getNews().toJavaScript(),
    request.getOldInputs()?.toJavaScript(),
  );
  const resp = new messages.DiffResponse();
  const changes = messages.DiffResponse.DiffChanges;
  resp.setChanges(
    result.changes === true ? changes.DIFF_SOME : result.changes === false ? changes.DIFF_NONE : changes.DIFF_UNKNOWN,
  );
  if (result.replaces?.length) resp.setReplacesList(result.replaces);
  if (result.deleteBeforeReplace) resp.setDeletebeforereplace(true);
  if (result.detailedDiff) {
    const map = resp.getDetaileddiffMap();
    for (const [path, d] of Object.entries(result.detailedDiff)) {
      const p = new messages.PropertyDiff();
      p.setKind(d.kind);
      p.setInputdiff(d.inputDiff);
      map.set(path, p);
    }
    resp.setHasdetaileddiff(true);
  }
  return resp;
}

/** Call before provider.main: the provider service it registers answers Diff with `diff`. */
export function serveDetailedDiffs(diff: Diff): void {
  const grpc = sdkRequire("@grpc/grpc-js");
  const services = sdkRequire("@pulumi/pulumi/proto/provider_grpc_pb");
  const addService = grpc.Server.prototype.addService;
  grpc.Server.prototype.addService = function (service: unknown, implementation: Record<string, unknown>) {
    if (service === services.ResourceProviderService) {
      implementation.diff = (call: { request: DiffRequest }, callback: Callback) =>
        diffResponse(diff, call.request).then(
          (resp) => callback(undefined, resp),
          (err: unknown) => callback(err),
        );
    }
    return addService.call(this, service, implementation);
  };
}
