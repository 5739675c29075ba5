/** Retry an assertion until it passes or `timeoutMs` is over (for state the bot writes a moment later). */
export async function eventually(check: () => Promise<void>, timeoutMs = 5000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((done) => setTimeout(done, intervalMs));
    }
  }
}
