/** English words for the twitter area (see ../catalogue.ts). */
export default {
  'command.twitter.description': 'Link your X account to avatar-bot',
  'command.twitter.link.description': 'Link your X account',
  'command.twitter.status.description': 'Show your linked X account and whether the link works',
  'command.twitter.unlink.description': 'Revoke the bot’s access and delete your data',

  'twitter.link.authorise': 'Authorise on X',
  'twitter.link.use-pin': 'Use a PIN instead',
  'twitter.link.enter-pin': 'Enter PIN',
  'twitter.link.callback-steps':
    '1. Click **Authorise on X** and approve avatar-bot.\n2. X sends you back to avatar-bot: sign in with Discord there, check it names your Discord account, and confirm.\n3. This message confirms the link.\nThe link works for 15 minutes and only for you.',
  'twitter.link.pin-steps': '1. Click **Authorise on X** and approve avatar-bot.\n2. X shows a PIN: click **Enter PIN** and type it.\nThe link works for 15 minutes and only for you.',
  'twitter.link.modal-title': 'Link your X account',
  'twitter.link.pin-label': 'PIN shown by X',
  'twitter.link.linked': 'Linked @{screenName}. Use /avatar set to change your X avatar.',

  'twitter.status.linked': 'Linked',
  'twitter.status.health': 'Link health',
  'twitter.status.working': 'Working',
  'twitter.status.revoked': 'Revoked: link again',
  'twitter.status.unknown': 'Unknown: {problem}',
  'twitter.status.no-answer': 'X did not answer',
  'twitter.status.applied': 'Avatars applied by the bot',

  'twitter.unlink.your-account': 'your X account',
  'twitter.unlink.confirm': 'Unlink {name}? The bot revokes its access at X and deletes your tokens and avatar history.',
  'twitter.unlink.confirm-damaged':
    'Your stored X link cannot be read, so X cannot be told. Unlink anyway? The bot deletes your stored link and avatar history; you can also remove avatar-bot at x.com > Settings > Security > Connected apps.',
  'twitter.unlink.button': 'Unlink',
  'twitter.unlink.cancelled': 'Cancelled: your X account stays linked.',
  'twitter.unlink.unlinking': 'Unlinking {name}…',
  'twitter.unlink.done': 'Unlinked {name}: access revoked at X, tokens and history deleted.',
  'twitter.unlink.done-unconfirmed':
    'Unlinked {name} here: tokens and history deleted. X did not confirm the revocation ({problem}); you can also remove avatar-bot at x.com > Settings > Security > Connected apps.',
  'twitter.unlink.no-answer': 'no answer',
  'twitter.unlink.unreadable': 'the stored link could not be read, so X could not be told',

  'twitter.page.not-linked': 'Not linked',
  'twitter.page.denied': 'You declined on X, so nothing was linked. You can close this tab.',
  'twitter.page.missing-params': 'This page needs the oauth_token and oauth_verifier that X adds. Run /twitter link again.',
  'twitter.page.sign-in': 'Sign in with Discord',
  /** {link} is the "Sign in with Discord" link. */
  'twitter.page.sign-in-text': '{link} to finish linking.',
  'twitter.page.expired': 'This sign-in has expired or was already used. Run /twitter link again.',
  'twitter.page.other-browser': 'This sign-in was started in a different browser. Nothing was linked. Open the Authorise on X link from /twitter link in the browser you use.',
  'twitter.page.other-browser-short': 'This sign-in was started in a different browser. Nothing was linked.',
  'twitter.page.no-discord': 'You did not sign in with Discord, so nothing was linked. Run /twitter link again.',
  'twitter.page.wrong-account':
    'You are signed in to Discord as {account}, but this X sign-in was started by a different Discord account, so nothing was linked and the sign-in was cancelled. If someone sent you their "Authorise on X" link, they were asking to control your X avatar: run /twitter link yourself instead.',
  'twitter.page.confirm': 'Link the X account you just approved on X to the Discord account {account}? Nothing is linked until you press the button.',
  'twitter.page.confirm-button': 'Link to @{username}',
  'twitter.page.not-you': 'Not your Discord account? Close this tab.',
  'twitter.page.too-large': 'That request is too large.',
  'twitter.page.not-a-form': 'Use the button on the confirmation page.',
  'twitter.page.linked-title': 'Linked @{screenName}',
  'twitter.page.linked': 'Your X account @{screenName} is linked to the Discord account {account}. You can close this tab and go back to Discord.',
} as const;
