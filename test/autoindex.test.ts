/** The autoindex page and apr_strfsize, against bytes recorded from Apache. */
import { describe, expect, it } from 'vitest';
import { renderListing, strfsize } from '../src/grammar/autoindex-page.js';

describe('autoindex', () => {
  it('formats sizes as apr_strfsize', () => {
    expect([0, 4, 972, 973, 1024, 9 * 1024, 10 * 1024, 1024 * 1024 * 5].map(strfsize)).toEqual(['  0 ', '  4 ', '972 ', '1.0K', '1.0K', '9.0K', ' 10K', '5.0M']);
  });
  it('renders the page Apache 2.4 renders for FancyIndexing HTMLTable', () => {
    const t = Date.UTC(2001, 8, 9, 1, 46, 40);
    process.env.TZ = 'UTC';
    const page = renderListing(
      '/listing/',
      [
        { name: 'two.html', isDir: false, size: 4, mtimeMs: t },
        { name: 'one.txt', isDir: false, size: 4, mtimeMs: t },
        { name: 'sub', isDir: true, size: 4096, mtimeMs: t },
      ],
      undefined,
      true,
    );
    // Recorded from Apache (shared oracle case headers-indexes, listing-200).
    expect(page).toBe(
      '<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">\n<html>\n <head>\n  <title>Index of /listing</title>\n </head>\n <body>\n<h1>Index of /listing</h1>\n  <table>\n   <tr><th valign="top">&nbsp;</th><th><a href="?C=N;O=D">Name</a></th><th><a href="?C=M;O=A">Last modified</a></th><th><a href="?C=S;O=A">Size</a></th><th><a href="?C=D;O=A">Description</a></th></tr>\n   <tr><th colspan="5"><hr></th></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="/">Parent Directory</a></td><td>&nbsp;</td><td align="right">  - </td><td>&nbsp;</td></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="one.txt">one.txt</a></td><td align="right">2001-09-09 01:46  </td><td align="right">  4 </td><td>&nbsp;</td></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="sub/">sub/</a></td><td align="right">2001-09-09 01:46  </td><td align="right">  - </td><td>&nbsp;</td></tr>\n<tr><td valign="top">&nbsp;</td><td><a href="two.html">two.html</a></td><td align="right">2001-09-09 01:46  </td><td align="right">  4 </td><td>&nbsp;</td></tr>\n   <tr><th colspan="5"><hr></th></tr>\n</table>\n</body></html>\n',
    );
  });
});
