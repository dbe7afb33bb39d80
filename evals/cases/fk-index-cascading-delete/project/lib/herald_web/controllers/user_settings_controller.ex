defmodule HeraldWeb.UserSettingsController do
  use HeraldWeb, :controller

  alias Herald.Accounts

  def delete(conn, _params) do
    {:ok, _user} = Accounts.delete_user(conn.assigns.current_user)

    conn
    |> put_flash(:info, "Your account has been deleted.")
    |> redirect(to: ~p"/")
  end
end
