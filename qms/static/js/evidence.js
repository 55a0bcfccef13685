// Fill the browser's UTC offset (minutes east of UTC) into custody forms; without it, UTC is assumed.
document.addEventListener("DOMContentLoaded", () => {
  const offset = -new Date().getTimezoneOffset();
  document.querySelectorAll("input[data-utc-offset]").forEach((input) => {
    input.value = String(offset);
  });
});
