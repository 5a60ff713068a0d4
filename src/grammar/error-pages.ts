/** Apache's built-in error pages (`ap_send_error_response`, `get_canned_error_string`). Pure. */

/**
 * The reason phrases Apache 2.4 knows (http_protocol.c, status_lines): `ap_get_status_line`
 * gives "500 Internal Server Error" for any other code.
 */
export const APACHE_REASONS: Readonly<Record<number, string>> = {
  100: 'Continue',
  101: 'Switching Protocols',
  102: 'Processing',
  103: 'Early Hints',
  200: 'OK',
  201: 'Created',
  202: 'Accepted',
  203: 'Non-Authoritative Information',
  204: 'No Content',
  205: 'Reset Content',
  206: 'Partial Content',
  207: 'Multi-Status',
  208: 'Already Reported',
  226: 'IM Used',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  304: 'Not Modified',
  305: 'Use Proxy',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
  400: 'Bad Request',
  401: 'Unauthorized',
  402: 'Payment Required',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  409: 'Conflict',
  410: 'Gone',
  411: 'Length Required',
  412: 'Precondition Failed',
  413: 'Request Entity Too Large',
  414: 'Request-URI Too Long',
  415: 'Unsupported Media Type',
  416: 'Requested Range Not Satisfiable',
  417: 'Expectation Failed',
  421: 'Misdirected Request',
  422: 'Unprocessable Entity',
  423: 'Locked',
  424: 'Failed Dependency',
  425: 'Too Early',
  426: 'Upgrade Required',
  428: 'Precondition Required',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  451: 'Unavailable For Legal Reasons',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
  506: 'Variant Also Negotiates',
  507: 'Insufficient Storage',
  508: 'Loop Detected',
  510: 'Not Extended',
  511: 'Network Authentication Required',
};

/**
 * The statuses Apache 2.4.71 has a status line for (`status_lines` in http_protocol.c; 306,
 * 418 and 425 are not among them: `[R=418]` is refused as an invalid code), with its reason
 * phrases: the title of its error pages and the codes a RewriteRule's [R=…] may name.
 */
export const STATUS_REASONS: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(APACHE_REASONS).filter(([code]) => code !== '306' && code !== '418' && code !== '425'),
);

// The test first: most strings have nothing to escape, and four replaces each allocate.
export const escapeHtml = (s: string): string => (/[&<>"]/.test(s) ? s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;') : s);

export interface ErrorPageContext {
  method: string;
  /** For 3xx pages. */
  location?: string;
  /** The `error-notes` note some 403/400 pages append. */
  errorNotes?: string;
  serverAdmin: string;
  /** The `<hr><address>` line when ServerSignature is On (empty when Off). */
  signature: string;
  /** The status of an error met while serving the ErrorDocument (ap_die's recursive_error). */
  additionally?: number;
}

function bodyFor(status: number, c: ErrorPageContext): string {
  const notes = (prefix: string, suffix: string): string => `${prefix}${c.errorNotes ?? ''}${suffix}`;
  switch (status) {
    case 301:
    case 302:
    case 307:
    case 308:
      return `<p>The document has moved <a href="${escapeHtml(c.location ?? '')}">here</a>.</p>\n`;
    case 303:
      return `<p>The answer to your request is located <a href="${escapeHtml(c.location ?? '')}">here</a>.</p>\n`;
    case 401:
    case 407:
      return "<p>This server could not verify that you\nare authorized to access the document\nrequested.  Either you supplied the wrong\ncredentials (e.g., bad password), or your\nbrowser doesn't understand how to supply\nthe credentials required.</p>\n";
    case 400:
      return notes('<p>Your browser sent a request that this server could not understand.<br />\n', '</p>\n');
    case 403:
      return notes("<p>You don't have permission to access this resource.", '</p>\n');
    case 404:
      return '<p>The requested URL was not found on this server.</p>\n';
    case 405:
      return `<p>The requested method ${escapeHtml(c.method)} is not allowed for this URL.</p>\n`;
    case 408:
      return '<p>Server timeout waiting for the HTTP request from the client.</p>\n';
    case 414:
      return notes("<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n", '</p>\n');
    case 410:
      return '<p>The requested resource is no longer available on this server and there is no forwarding address.\nPlease remove all references to this resource.</p>\n';
    case 412:
      return '<p>The precondition on the request for this URL evaluated to false.</p>\n';
    case 413:
      return `The requested resource does not allow request data with ${escapeHtml(c.method)} requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n`;
    case 416:
      return '<p>None of the range-specifier values in the Range\nrequest-header field overlap the current extent\nof the selected resource.</p>\n';
    case 501:
      return notes(`<p>${escapeHtml(c.method)} not supported for current URL.<br />\n`, '</p>\n');
    case 503:
      return '<p>The server is temporarily unable to service your\nrequest due to maintenance downtime or capacity\nproblems. Please try again later.</p>\n';
    case 504:
      return '<p>The gateway did not receive a timely response\nfrom the upstream server or application.</p>\n';
    case 300:
      return '';
    case 305:
      // ap_send_error_response passes no location for a 305 (observed: an empty line).
      return '<p>This resource is only accessible through the proxy\n<br />\nYou will need to configure your client to use that proxy.</p>\n';
    case 406:
      return '<p>An appropriate representation of the requested resource could not be found on this server.</p>\n';
    case 411:
      return notes(`<p>A request of the requested method ${escapeHtml(c.method)} requires a valid Content-length.<br />\n`, '</p>\n');
    case 415:
      return '<p>The supplied request data is not in a format\nacceptable for processing by this resource.</p>\n';
    case 417:
      return '<p>No expectation was seen, the Expect request-header \nfield was not presented by the client.\n</p><p>Only the 100-continue expectation is supported.</p>\n';
    case 421:
      return '<p>The client needs a new connection for this\nrequest as the requested host name does not match\nthe Server Name Indication (SNI) in use for this\nconnection.</p>\n';
    case 422:
      return '<p>The server understands the media type of the\nrequest entity, but was unable to process the\ncontained instructions.</p>\n';
    case 423:
      return '<p>The requested resource is currently locked.\nThe lock must be released or proper identification\ngiven before the method can be applied.</p>\n';
    case 424:
      return '<p>The method could not be performed on the resource\nbecause the requested action depended on another\naction and that other action failed.</p>\n';
    case 426:
      return "<p>The requested resource can only be retrieved\nusing SSL.  The server is willing to upgrade the current\nconnection to SSL, but your client doesn't support it.\nEither upgrade your client, or try requesting the page\nusing https://\n";
    case 428:
      return '<p>The request is required to be conditional.</p>\n';
    case 429:
      return '<p>The user has sent too many requests\nin a given amount of time.</p>\n';
    case 431:
      return '<p>The server refused this request because\nthe request header fields are too large.</p>\n';
    case 451:
      return notes('<p>Access to this URL has been denied for legal reasons.<br />\n', '</p>\n');
    case 502:
      // Apache's own text has CRLF line ends here.
      return notes('<p>The proxy server received an invalid\r\nresponse from an upstream server.<br />\r\n', '</p>\n');
    case 506:
      // The variant's URI is a note only mod_negotiation sets (not loaded on the host): empty.
      return '<p>A variant for the requested resource\n<pre>\n\n</pre>\nis itself a negotiable resource. This indicates a configuration error.</p>\n';
    case 507:
      return '<p>The method could not be performed on the resource\nbecause the server is unable to store the\nrepresentation needed to successfully complete the\nrequest.  There is insufficient free space left in\nyour storage allocation.</p>\n';
    case 508:
      return '<p>The server terminated an operation because\nit encountered an infinite loop.</p>\n';
    case 510:
      return '<p>A mandatory extension policy in the request is not\naccepted by the server for this resource.</p>\n';
    case 511:
      return '<p>The client needs to authenticate to gain\nnetwork access.</p>\n';
    default:
      return (
        '<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n' +
        `<p>Please contact the server administrator at \n ${c.serverAdmin} to inform them of the time this error occurred,\n` +
        ' and the actions you performed just before this error.</p>\n' +
        '<p>More information about this error may be available\nin the server error log.</p>\n'
      );
  }
}

/** ap_send_error_response's line for an error met while serving the ErrorDocument. */
function additionally(status: number | undefined): string {
  if (status === undefined) return '';
  return `<p>Additionally, a ${status} ${STATUS_REASONS[status] ?? 'Internal Server Error'}\nerror was encountered while trying to use an ErrorDocument to handle the request.</p>\n`;
}

/** The full HTML page Apache sends for an error or redirect status. */
export function cannedErrorPage(status: number, c: ErrorPageContext): string {
  const reason = STATUS_REASONS[status] ?? 'Internal Server Error';
  const title = `${status} ${reason}`;
  return (
    '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n' +
    `<html><head>\n<title>${title}</title>\n</head><body>\n<h1>${reason}</h1>\n${bodyFor(status, c)}${additionally(c.additionally)}${c.signature}</body></html>\n`
  );
}
