-- The window a kill of notify turns into a second copy (delivery.py): from writing the DATA's final
-- "." (end_of_data_at, the worker's clock) to writing the statement that records the server's 250
-- (window_us later, measured by the worker). Written with 'sent'; NULL for messages sent before.
ALTER TABLE messages ADD COLUMN end_of_data_at timestamptz;
ALTER TABLE messages ADD COLUMN window_us integer;
