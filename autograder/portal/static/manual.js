/* Grading by question (templates/manual_question.html): saving without leaving the page, and the keyboard.

   Progressive enhancement: every form of the page works without this file (a POST, then a redirect back to the
   answer).  Here the answers' forms and the groups' rubric buttons are sent with fetch() as JSON, the CSRF token
   in the X-CSRFToken header (from <main data-csrf-token>), and each answer's state and the progress counter are
   updated from the server's reply, which holds the answers as stored (drafts: the page's publish button, a
   plain form, sends them to the students).  Ticking an item in an answer's form makes its points the items' sum
   plus its adjustment; a number key puts an item on the selected answer or takes it off.  The rubric's own forms stay plain forms:
   the page comes back with the new or changed item.  The keys are listed on the page (「キーボード」). */
"use strict";

(function () {
  const root = document.getElementById("manual");
  if (!root) {
    return;
  }
  const token = root.dataset.csrfToken;
  const answers = Array.from(document.querySelectorAll("article.answer"));
  const items = Array.from(document.querySelectorAll("li.rubric-item")).map((li) => ({
    id: li.dataset.item, number: Number(li.dataset.number), text: li.dataset.text, points: li.dataset.points,
  }));
  const progress = document.getElementById("progress");
  const unpublished = document.getElementById("unpublished");
  const maxPoints = Number(root.dataset.maxPoints);
  const pageStatus = document.getElementById("manual-status");
  let current = null;
  let sent = 0; // requests sent; a reply's progress counts only if no later reply has been shown
  let shownProgress = 0;

  function say(where, text, error) {
    if (!where) {
      return;
    }
    where.textContent = text;
    where.classList.toggle("error", Boolean(error));
  }

  function messageOf(article) {
    return article.querySelector(".message");
  }

  function mark(article) {
    if (current) {
      current.classList.remove("current");
    }
    current = article;
    current.classList.add("current");
  }

  /* Make ``article`` the answer the keys act on; ``field``: put the cursor in its points field. */
  function select(article, field) {
    if (!article) {
      return;
    }
    mark(article);
    if (field) {
      const input = article.querySelector("input[name=points]");
      input.focus({preventScroll: true});
      input.select();
    } else {
      article.focus({preventScroll: true});
    }
    article.scrollIntoView({block: "start"});
  }

  function neighbour(from, step) {
    const index = from ? answers.indexOf(from) : (step > 0 ? -1 : answers.length);
    return answers[index + step] || null;
  }

  function nextUngraded(from) {
    const start = from ? answers.indexOf(from) : -1;
    for (let k = 1; k <= answers.length; k += 1) {
      const answer = answers[(start + k) % answers.length];
      if (answer.classList.contains("ungraded")) { // the last one looked at is ``from`` itself
        return answer;
      }
    }
    return null;
  }

  async function send(url, body) {
    const number = (sent += 1);
    let response;
    try {
      response = await fetch(url, {
        method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token},
      });
    } catch (error) {
      throw new Error("サーバーに届きませんでした。もう一度保存してください / the server did not answer: save again");
    }
    if (!(response.headers.get("Content-Type") || "").includes("application/json")) {
      // signed out (the sign-in page after a redirect), a stale CSRF token (400) or no longer allowed (403)
      throw new Error(response.redirected
        ? "サインインし直してください（ページを読み込み直す） / signed out: reload the page and sign in"
        : `受け付けられませんでした（${response.status}）。ページを読み込み直してください / refused: reload the page`);
    }
    const reply = await response.json();
    if (!reply.ok) {
      throw new Error(reply.error);
    }
    show(reply, number);
    return reply;
  }

  /* The answers and the progress as the server stored them. */
  function show(reply, number) {
    for (const state of reply.answers) {
      const article = document.getElementById(`answer-${state.student_id}`);
      if (!article) {
        continue;
      }
      const form = article.querySelector("form.grade");
      form.elements.points.value = state.points === null ? "" : String(state.points);
      form.elements.was_points.value = form.elements.points.value;
      form.elements.comment.value = state.comment;
      article.dataset.adjustment = String(state.adjustment);
      article.querySelectorAll("input[name=items]").forEach((box) => {
        box.checked = state.items.includes(box.value);
      });
      article.querySelector(".adjustment").textContent =
        state.items.length && state.adjustment ? `調整 ${signed(state.adjustment)} 点` : "";
      article.classList.toggle("unpublished", !state.published);
      article.querySelector(".publication").textContent = state.published
        ? (state.graded ? "公開済み / published" : "")
        : `未公開（学生に見えている点: ${state.published_points === null ? "なし" : state.published_points}） / unpublished`;
      article.classList.toggle("graded", state.graded);
      article.classList.toggle("ungraded", !state.graded);
      article.classList.remove("dirty");
      article.querySelector(":scope > h4 .state").textContent = state.graded ? "採点済み / graded" : "未採点 / ungraded";
      const changed = article.querySelector(".changed");
      if (changed && !state.changed) {
        changed.remove();
      }
    }
    for (const [id, count] of Object.entries(reply.counts || {})) {
      const shown = document.getElementById(`count-${id}`);
      if (shown) {
        shown.textContent = `${count} 人`;
      }
    }
    if (number > shownProgress) {
      shownProgress = number;
      progress.dataset.graded = reply.progress.graded;
      progress.dataset.total = reply.progress.total;
      progress.textContent = `採点済み ${reply.progress.graded} / ${reply.progress.total}`;
      unpublished.dataset.unpublished = reply.progress.unpublished;
      unpublished.textContent = `未公開 ${reply.progress.unpublished} 件`;
    }
  }

  /* Save one answer's form; true if stored. */
  async function save(article) {
    const form = article.querySelector("form.grade");
    const points = form.elements.points;
    if (points.validity.badInput) {
      say(messageOf(article), "点数が数ではありません / points must be a number", true);
      return false;
    }
    say(messageOf(article), "保存しています… / saving…");
    try {
      await send(form.action, {
        student_id: article.dataset.student, points: points.value, comment: form.elements.comment.value,
        was_points: form.elements.was_points.value, items: checkedItems(article),
      });
    } catch (error) {
      say(messageOf(article), error.message, true);
      return false;
    }
    say(messageOf(article), "保存しました / saved");
    return true;
  }

  /* Save and go on to the next answer at once; if the save is refused, come back to it. */
  function saveAndMove(article) {
    save(article).then((stored) => {
      if (!stored) {
        select(article, true);
      }
    });
    const next = neighbour(article, 1);
    if (next) {
      select(next, true);
    } else {
      say(pageStatus, "最後の答えです / that was the last answer");
    }
  }

  function signed(points) {
    return (points > 0 ? "+" : "") + String(points).replace("-", "−");
  }

  function checkedItems(article) {
    return Array.from(article.querySelectorAll("input[name=items]:checked")).map((box) => box.value);
  }

  /* An item ticked or unticked in the form: the points become the items' sum plus the answer's adjustment. */
  function recount(article) {
    const boxes = Array.from(article.querySelectorAll("input[name=items]:checked"));
    const field = article.querySelector("input[name=points]");
    if (!boxes.length && field.value === "") {
      return;
    }
    const sum = boxes.reduce((total, box) => total + Number(box.dataset.points), 0);
    const total = sum + (article.classList.contains("graded") ? Number(article.dataset.adjustment || 0) : 0);
    field.value = String(Math.min(maxPoints, Math.max(0, total)));
  }

  function groupOf(element) {
    return Array.from(element.closest("section.group").querySelectorAll("article.answer"));
  }

  async function apply(article, number, wholeGroup) {
    const item = items.find((i) => i.number === number);
    if (!item) {
      say(messageOf(article), `評価項目 ${number} はありません / no rubric item ${number}`, true);
      return;
    }
    const members = wholeGroup ? groupOf(article) : [article];
    // one answer: the key puts the item on or takes it off; a group: on, for every member
    const remove = !wholeGroup && checkedItems(article).includes(item.id);
    await applyTo(members, item.id, remove);
  }

  async function applyTo(members, itemId, remove) {
    members.forEach((a) => say(messageOf(a), "保存しています… / saving…"));
    try {
      const students = members.map((a) => a.dataset.student);
      const reply = await send(root.dataset.applyUrl, {item_id: itemId, student_ids: students, remove: Boolean(remove)});
      members.forEach((a) => say(messageOf(a), reply.message));
    } catch (error) {
      members.forEach((a) => say(messageOf(a), error.message, true));
    }
  }

  document.querySelectorAll("form.grade").forEach((form) => {
    const article = form.closest("article.answer");
    form.noValidate = true; // the server checks the points and says what is wrong, in both languages
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      save(article);
    });
    form.addEventListener("input", (event) => {
      if (event.target.name === "items") {
        recount(article);
      }
      article.classList.add("dirty");
      say(messageOf(article), "未保存 / not saved");
    });
  });
  document.querySelectorAll("form.apply").forEach((form) => {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (event.submitter && event.submitter.value) {
        applyTo(groupOf(form), event.submitter.value);
      }
    });
  });
  document.addEventListener("focusin", (event) => {
    const article = event.target.closest && event.target.closest("article.answer");
    if (article && article !== current) {
      mark(article);
    }
  });

  window.addEventListener("beforeunload", (event) => {
    if (document.querySelector("article.answer.dirty")) {
      event.preventDefault(); // points or a comment typed and not saved
      event.returnValue = "";
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.isComposing || event.keyCode === 229) {
      return; // the Japanese input method is converting: its Enter is not ours
    }
    const target = event.target;
    const typing = Boolean(target.matches && target.matches("input, textarea, select"));
    const article = target.closest ? target.closest("article.answer") : null;
    if (event.altKey && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      select(neighbour(article || current, event.key === "ArrowDown" ? 1 : -1), typing && Boolean(article));
      return;
    }
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const which = typing ? article : (article || current);
      if (which) {
        event.preventDefault();
        saveAndMove(which);
      }
      return;
    }
    if (typing) {
      if (event.key === "Enter" && !event.shiftKey && !event.altKey && target.name === "points" && article) {
        event.preventDefault();
        saveAndMove(article);
      } else if (event.key === "Escape" && article) {
        event.preventDefault();
        select(article, false);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (target.matches && target.matches("button, a, summary") && (event.key === "Enter" || event.key === " ")) {
      return; // a focused button or link does its own thing
    }
    const digit = /^(?:Digit|Numpad)([1-9])$/.exec(event.code);
    if (event.key === "j") {
      select(neighbour(current, 1), false);
    } else if (event.key === "k") {
      select(neighbour(current, -1), false);
    } else if (event.key === "n") {
      const next = nextUngraded(current);
      if (next) {
        select(next, false);
      } else {
        say(pageStatus, "未採点の答えはもうありません / nothing left to grade");
      }
    } else if (event.key === "Enter" && current) {
      select(current, true);
    } else if (digit && current) {
      apply(current, Number(digit[1]), event.shiftKey);
    } else {
      return;
    }
    event.preventDefault();
  });

  const linked = location.hash && document.getElementById(decodeURIComponent(location.hash.slice(1)));
  if (linked && answers.includes(linked)) {
    mark(linked); // back from a plain form's save: the keys go on from this answer
    linked.focus({preventScroll: true});
  }
}());
