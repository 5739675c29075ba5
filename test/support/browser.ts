/**
 * A browser for the callback flow's tests: a cookie jar per origin, redirects followed by hand (so each
 * hop's cookies are stored and sent, as a browser does), and form posts. Each test person has their own.
 */
export interface Page {
  url: string;
  status: number;
  text: string;
  headers: Headers;
}

export class Browser {
  private readonly jars = new Map<string, Map<string, string>>();

  setCookie(url: string, cookie: { name: string; value: string }): void {
    this.jar(url).set(cookie.name, cookie.value);
  }

  cookies(url: string): ReadonlyMap<string, string> {
    return this.jar(url);
  }

  /** GET `url`, following up to 10 redirects. */
  open(url: string): Promise<Page> {
    return this.navigate(url, { method: 'GET' });
  }

  /** Submit the first form on `page` (its hidden inputs), as pressing its button does. */
  submit(page: Page): Promise<Page> {
    const form = /<form method="post" action="([^"]+)">([\s\S]*?)<\/form>/.exec(page.text);
    if (!form) throw new Error(`no form on ${page.url}`);
    const fields = new URLSearchParams();
    for (const input of form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields.set(unescape(input[1]!), unescape(input[2]!));
    return this.navigate(new URL(unescape(form[1]!), page.url).toString(), { method: 'POST', body: fields.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  private jar(url: string): Map<string, string> {
    const origin = new URL(url).origin;
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  private async navigate(url: string, init: { method: string; body?: string; headers?: Record<string, string> }): Promise<Page> {
    let current = url;
    let request = init;
    for (let hop = 0; hop <= 10; hop += 1) {
      const jar = this.jar(current);
      const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join('; ');
      const response = await fetch(current, { ...request, redirect: 'manual', headers: { ...request.headers, ...(cookie ? { cookie } : {}) } });
      for (const line of response.headers.getSetCookie()) {
        const [pair, ...attributes] = line.split(';');
        const [name, ...value] = pair!.trim().split('=');
        if (attributes.some((attribute) => /^\s*max-age=0\s*$/i.test(attribute))) jar.delete(name!);
        else jar.set(name!, value.join('='));
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        current = new URL(location, current).toString();
        request = { method: 'GET' };
        continue;
      }
      return { url: current, status: response.status, text: await response.text(), headers: response.headers };
    }
    throw new Error(`too many redirects from ${url}`);
  }
}

const unescape = (text: string) => text.replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code))).replace(/&amp;/g, '&');
