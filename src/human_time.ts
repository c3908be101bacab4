// Timestamps as the tools users know print them, in local time.

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function parts(ms: number): { date: string; time: string; millis: string } {
  const d = new Date(ms);
  return {
    date: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`,
    time: `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`,
    millis: pad(d.getMilliseconds(), 3),
  };
}

/** RocketMQ's UtilAll.timeMillisToHumanString2: `yyyy-MM-dd HH:mm:ss,SSS`. */
export function rocketmqTime(ms: number): string {
  const p = parts(ms);
  return `${p.date} ${p.time},${p.millis}`;
}

/** kafka-consumer-perf-test's default --date-format: `yyyy-MM-dd HH:mm:ss:SSS`. */
export function kafkaTime(ms: number): string {
  const p = parts(ms);
  return `${p.date} ${p.time}:${p.millis}`;
}
