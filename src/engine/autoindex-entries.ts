/**
 * mod_autoindex's access check of each entry it would list (make_autoindex_entry): a lookup
 * sub-request (ap_sub_req_lookup_dirent) for the entry, without the request's query string,
 * runs the walk, access control and fixups (mod_rewrite's per-directory rules, mod_dir's
 * index search) but not the handler; the entry is listed only when that lookup ends in 200 or
 * a redirect (or, with IndexOptions ShowForbidden, 401 or 403). So `Require all denied` in
 * `<Files>`, the host's `.ht*` deny, a subdirectory that refuses access, asks for a login or
 * has a broken `.htaccess`, and a RewriteRule's [F]/[G] hide an entry; a script in a directory
 * without ExecCGI (a handler's 403) does not.
 */
import { factsWith, resolveUri, type RequestFacts, type ResolveContext } from './resolve.js';

/** What the lookup of a listed entry found: its type and encoding (for icons, titles), when it is a file. */
export interface EntryLookup {
  contentType?: string;
  encoding?: string;
}

/** The lookup of the entry `name` in the listing of `dirUri` (decoded); undefined: not listed. */
export function listingEntryLookup(ctx: ResolveContext, req: RequestFacts, dirUri: string, name: string, isDir: boolean, showForbidden = false): EntryLookup | undefined {
  // ap_make_dirstr_parent: the URI up to its last slash, then the entry (a directory gets its slash).
  const parent = dirUri.slice(0, dirUri.lastIndexOf('/') + 1);
  const lookup = factsWith(req, { method: 'GET', query: undefined, lookupOnly: true, story: undefined });
  const d = resolveUri(ctx, lookup, `${parent}${name}${isDir ? '/' : ''}`);
  if (d.kind === 'error' && (d.status < 200 || d.status >= 400) && !(showForbidden && (d.status === 401 || d.status === 403))) return undefined;
  const found: EntryLookup = {};
  if (d.kind === 'file' && d.contentType !== undefined) found.contentType = d.contentType;
  if (d.kind === 'file' && d.encoding !== undefined) found.encoding = d.encoding;
  return found;
}
