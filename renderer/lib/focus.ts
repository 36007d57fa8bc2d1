// Moves keyboard focus to an element as it appears, so a keyboard or screen-reader user lands on
// the view they just opened instead of on the page's start (the button they pressed is gone).
export function focusOnMount(node: HTMLElement): void {
  node.focus();
}
