import React, { useEffect, useRef, useState } from 'react';
import DOMPurify from 'dompurify';
import { marked } from 'marked';

export function Comment({ comment }) {
  // <fill comment>
}

export function Markdown({ source }) {
  const ref = useRef(null);
  useEffect(() => {
    // <fill markdown>
  }, [source]);
  return <div className="md" ref={ref} />;
}

export default function CommentList({ comments }) {
  const [items, setItems] = useState(comments);
  return (
    <ul>
      {items.map((c) => (
        <li key={c.id}>
          <Comment comment={c} />
        </li>
      ))}
    </ul>
  );
}
