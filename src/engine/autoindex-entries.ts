/**
 * mod_autoindex's access check of each entry it would list (make_autoindex_entry): a lookup
 * sub-request (ap_sub_req_lookup_dirent) for the entry, without the request's query string,
 * runs the walk, access control and fixups (mod_rewrite's per-directory rules, mod_dir's
 * index search) but not the handler; the entry is listed only when that lookup ends in 200 or
 * a redirect. So `Require all denied` in `<Files>`, the host's `.ht*` deny, a subdirectory
 * that refuses access, asks for a login or has a broken `.htaccess`, and a RewriteRule's
 * [F]/[G] hide an entry; a script in a directory without ExecCGI (a handler's 403) does not.
 */
import { resolveUri, type RequestFacts, type ResolveContext } from './resolve.js';

/** Whether the listing of `dirUri` (decoded) shows the entry `name`. */
export function listingShowsEntry(ctx: ResolveContext, req: RequestFacts, dirUri: string, name: string, isDir: boolean): boolean {
  // ap_make_dirstr_parent: the URI up to its last slash, then the entry (a directory gets its slash).
  const parent = dirUri.slice(0, dirUri.lastIndexOf('/') + 1);
  const lookup: RequestFacts = { ...req, method: 'GET', query: undefined, lookupOnly: true };
  delete lookup.story;
  const d = resolveUri(ctx, lookup, `${parent}${name}${isDir ? '/' : ''}`);
  return d.kind !== 'error' || (d.status >= 200 && d.status < 400);
}
