// Idle sign-out: no touch, click or key for session.idle_signout_s → onIdle().

const EVENTS = ['pointerdown', 'touchstart', 'keydown', 'click', 'wheel'];

/** getTimeoutS() returns the limit in seconds (0 or less: never); onIdle() is called once per idle spell. */
export function watchIdle(getTimeoutS, onIdle) {
  let last = Date.now();
  const touch = () => {
    last = Date.now();
  };
  for (const ev of EVENTS) document.addEventListener(ev, touch, { capture: true, passive: true });
  setInterval(() => {
    const limit = getTimeoutS();
    if (limit > 0 && Date.now() - last >= limit * 1000) {
      last = Date.now();
      onIdle();
    }
  }, 1000);
  return { reset: touch };
}
