/**
 * What a script's source (or a compiled program's bytes) shows about FastCGI, for `check`'s
 * doctor and `compare`: whether it uses a FastCGI library at all (a plain CGI script mapped to
 * `fcgid-script` is the classic mistake behind the host's `<Files *.rb>` FAQ), and whether it
 * watches its own file (the host's FAQ: exit when the file changes, or an updated script keeps
 * being answered by the old process). Heuristics over text: they report likelihoods, never errors.
 */

/** Libraries and idioms of FastCGI applications, in the languages students use on the host. */
const FASTCGI_LIBRARY =
  /\buse\s+(?:FCGI|CGI::Fast|Plack::Handler::FCGI|FCGI::ProcManager)\b|\bCGI::Fast\b|\bFCGI::Request\b|\brequire\s*\(?\s*['"](?:fcgi|rack\/handler\/fastcgi)['"]|\bFCGI\.each|\bRack::Handler::FastCGI\b|\bfcgi_stdio\.h\b|\bfcgiapp\.h\b|\bFCGX_Accept|\bFCGI_Accept|\bflup\b|\bWSGIServer\b/;

/** A check of the script's own modification time (or of a file standing for it). */
const WATCHES_ITSELF =
  /(?:-M\s+\$0|stat\s*\(?\s*(?:\$0|__FILE__|\$PROGRAM_NAME)|File\.(?:mtime|stat)\s*\(\s*(?:__FILE__|\$0|\$PROGRAM_NAME)|getmtime\s*\(\s*__file__|os\.stat\s*\(\s*__file__|filemtime\s*\(\s*__FILE__|stat\s*\(\s*argv\[0\]|SCRIPT_FILENAME[\s\S]{0,80}mtime|mtime[\s\S]{0,80}(?:\$0|__FILE__|__file__|SCRIPT_FILENAME))/;

/** Does the text (a script, or a program's bytes read as latin1) use a FastCGI library? */
export function usesFastCgiLibrary(text: string): boolean {
  return FASTCGI_LIBRARY.test(text);
}

/** Does the script look at its own modification time (so it can exit after an update)? */
export function watchesOwnFile(text: string): boolean {
  return WATCHES_ITSELF.test(text);
}
