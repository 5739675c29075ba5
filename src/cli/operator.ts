import { loadConfig, need } from '../config.js';
import { createLogger } from '../log.js';
import { xClientFrom } from '../wiring.js';
import type { UserTokens, XClient } from '../x/client.js';
import { forTerminal } from './messages.js';

/**
 * Run one command on the operator's own account (TWITTER_ACCESS_TOKEN[_SECRET]): no Discord user, so no
 * store, no history and no original to keep; X's refusals come out worded for the terminal.
 */
export async function withOperator<T>(work: (x: XClient, tokens: UserTokens) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const x = xClientFrom(config, createLogger({ level: config.logLevel }));
  try {
    const operator = need(config, 'twitterAccessToken', 'twitterAccessTokenSecret');
    return await work(x, { token: operator.twitterAccessToken, secret: operator.twitterAccessTokenSecret });
  } catch (error) {
    throw forTerminal(error);
  } finally {
    await x.close();
  }
}
