defmodule HeraldWeb.NotificationController do
  use HeraldWeb, :controller

  alias Herald.Notifications

  def index(conn, _params) do
    notifications = Notifications.list_unread(conn.assigns.current_user.id)
    render(conn, :index, notifications: notifications)
  end
end
